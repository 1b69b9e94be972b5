//! Group statistics as SPEC §1 defines them, computed from kept sums (never by scanning members).

/// The mean age of members with a birth year, rounded half up; `None` when none has one.
/// Every member's age is `current_year - birth_year`, so the mean is
/// `current_year - birth_sum / n`, computed exactly in integers.
pub fn avg_age(current_year: i32, birth_sum: i64, birth_n: i64) -> Option<i64> {
    if birth_n <= 0 {
        return None;
    }
    let total_age = i64::from(current_year) * birth_n - birth_sum;
    // floor((total_age / n) + 1/2) = floor((2 * total_age + n) / (2 * n))
    Some((2 * total_age + birth_n).div_euclid(2 * birth_n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_age_rounds_half_up() {
        // ages 30 and 31 -> 30.5 -> 31
        assert_eq!(avg_age(2026, 1996 + 1995, 2), Some(31));
        // ages 30, 30, 31 -> 30.33 -> 30
        assert_eq!(avg_age(2026, 1996 * 2 + 1995, 3), Some(30));
        // ages 30, 31, 31 -> 30.67 -> 31
        assert_eq!(avg_age(2026, 1996 + 1995 * 2, 3), Some(31));
        assert_eq!(avg_age(2026, 0, 0), None);
        // a baby born this year is 0, and -0.5 style halves never occur below zero
        assert_eq!(avg_age(2026, 2026, 1), Some(0));
    }
}
