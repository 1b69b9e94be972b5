//! What the importer has already looked up: users' attributes and groups' owners, and ids
//! known to be absent. Lines come users first, so most lookups are answered here instead
//! of by the store.
//!
//! Every follow, member and activity line asks about a user, so these lookups are on the
//! import's hot path: a hash map of the 1M world's 2M users spread its entries over 200 MB
//! and each lookup missed the CPU caches (a tenth of the import's writer thread). Entries
//! are 12 bytes, kept in a table indexed by id while the ids stay dense, as the ids the
//! service hands out do.

use std::collections::HashMap;

use crate::store::groups;
use crate::store::users::{self, Person};
use crate::store::{Db, DbResult};

/// A user's attributes that the import needs: their membership share and their tier
/// (an index into `Known::tiers`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Who {
    pub female: bool,
    pub birth_year: Option<i32>,
    tier: u16,
}

/// What is known of an id.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
enum Seen<T> {
    #[default]
    Unknown,
    Absent,
    Present(T),
}

/// Ids below this are always kept in the table: 64K entries cost under 1 MB.
const DENSE_FLOOR: usize = 1 << 16;

/// Values by id: a table indexed by id as long as it stays at most about four times as long
/// as the number of values set (ids handed out from 1 up), a hash map for the ids beyond.
struct IdTable<T> {
    dense: Vec<Seen<T>>,
    sparse: HashMap<i64, Seen<T>, ahash::RandomState>,
    /// Values set so far, which bounds how long the table may grow.
    set: usize,
}

impl<T> Default for IdTable<T> {
    fn default() -> Self {
        IdTable { dense: Vec::new(), sparse: HashMap::default(), set: 0 }
    }
}

impl<T: Copy> IdTable<T> {
    fn get(&self, id: i64) -> Seen<T> {
        match usize::try_from(id) {
            Ok(i) if i < self.dense.len() => self.dense[i],
            _ => self.sparse.get(&id).copied().unwrap_or_default(),
        }
    }

    fn set(&mut self, id: i64, value: Seen<T>) {
        self.set += 1;
        if let Ok(i) = usize::try_from(id) {
            let limit = DENSE_FLOOR.max(2 * self.set);
            // Doubling, so that the map is walked a few times in all (`grow`).
            if i >= self.dense.len() && i < limit {
                self.grow((i + 1).max(2 * self.dense.len()));
            }
            if let Some(slot) = self.dense.get_mut(i) {
                *slot = value;
                return;
            }
        }
        self.sparse.insert(id, value);
    }

    /// Lengthens the table to `len`, moving in the ids of the map it now covers.
    fn grow(&mut self, len: usize) {
        self.dense.resize(len, Seen::Unknown);
        let dense = &mut self.dense;
        self.sparse.retain(|&id, value| match usize::try_from(id) {
            Ok(i) if i < len => {
                dense[i] = *value;
                false
            }
            _ => true,
        });
    }
}

#[derive(Default)]
pub struct Known {
    people: IdTable<Who>,
    owners: IdTable<i64>,
    /// The tier names the people known have, which `Who::tier` indexes.
    tiers: Vec<String>,
}

impl Known {
    /// A user, looked up in the store the first time they are named.
    pub fn person(&mut self, db: &Db<'_>, id: i64) -> DbResult<Option<Who>> {
        match self.people.get(id) {
            Seen::Present(who) => Ok(Some(who)),
            Seen::Absent => Ok(None),
            // Absence found here is not noted (a server may create the user before a later
            // batch); absence found by `prefetch` on PostgreSQL is, as before.
            Seen::Unknown => match users::person(db, id)? {
                Some(p) => {
                    self.learn_person(id, Some(&p));
                    Ok(self.person_known(id))
                }
                None => Ok(None),
            },
        }
    }

    /// A user as known without asking the store (None when absent or not looked up).
    fn person_known(&self, id: i64) -> Option<Who> {
        match self.people.get(id) {
            Seen::Present(who) => Some(who),
            Seen::Absent | Seen::Unknown => None,
        }
    }

    /// Notes a user as they are (or will be once the line is written), or as absent.
    pub fn learn_person(&mut self, id: i64, person: Option<&Person>) {
        let seen = match person {
            Some(p) => {
                Seen::Present(Who { female: p.female, birth_year: p.birth_year, tier: self.tier_index(&p.tier) })
            }
            None => Seen::Absent,
        };
        self.people.set(id, seen);
    }

    pub fn tier_name(&self, who: Who) -> &str {
        &self.tiers[usize::from(who.tier)]
    }

    /// The user with their tier's name, as the store has them.
    pub fn person_record(&self, id: i64) -> Option<Person> {
        self.person_known(id).map(|w| Person {
            female: w.female,
            birth_year: w.birth_year,
            tier: self.tier_name(w).to_string(),
        })
    }

    pub fn is_unknown_person(&self, id: i64) -> bool {
        self.people.get(id) == Seen::Unknown
    }

    fn tier_index(&mut self, name: &str) -> u16 {
        let at = self.tiers.iter().position(|t| t == name).unwrap_or_else(|| {
            self.tiers.push(name.to_string());
            self.tiers.len() - 1
        });
        u16::try_from(at).expect("fewer than 65,536 tier names")
    }

    /// A live group's owner, looked up in the store the first time it is named.
    pub fn owner(&mut self, db: &Db<'_>, group_id: i64) -> DbResult<Option<i64>> {
        match self.owners.get(group_id) {
            Seen::Present(owner) => Ok(Some(owner)),
            Seen::Absent => Ok(None),
            Seen::Unknown => {
                let owner = groups::owner_of(db, group_id)?;
                if owner.is_some() {
                    self.learn_owner(group_id, owner);
                }
                Ok(owner)
            }
        }
    }

    /// Notes a group's owner, or that no live group has the id.
    pub fn learn_owner(&mut self, group_id: i64, owner: Option<i64>) {
        self.owners.set(group_id, owner.map_or(Seen::Absent, Seen::Present));
    }

    pub fn is_unknown_group(&self, id: i64) -> bool {
        self.owners.get(id) == Seen::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_table_answers_for_dense_sparse_and_negative_ids() {
        let mut t = IdTable::<i64>::default();
        let far = 1_000_000_000_000;
        for (id, v) in [(1, 10), (far, 20), (-5, 30), (70_000, 40)] {
            t.set(id, Seen::Present(v));
        }
        t.set(2, Seen::Absent);
        assert_eq!(t.get(1), Seen::Present(10));
        assert_eq!(t.get(2), Seen::Absent);
        assert_eq!(t.get(3), Seen::Unknown);
        assert_eq!(t.get(far), Seen::Present(20));
        assert_eq!(t.get(-5), Seen::Present(30));
        assert_eq!(t.get(70_000), Seen::Present(40));
        assert!(t.dense.len() <= DENSE_FLOOR, "a far id does not lengthen the table");
    }

    #[test]
    fn ids_kept_in_the_map_move_into_the_table_as_it_grows() {
        let mut t = IdTable::<i64>::default();
        // Beyond the table at first (too far for the few values set)...
        t.set(200_000, Seen::Present(7));
        assert!(t.sparse.contains_key(&200_000));
        // ...covered once enough ids are set in order.
        for id in 1..=140_000 {
            t.set(id, Seen::Present(id));
        }
        assert!(t.dense.len() > 200_000);
        assert!(t.sparse.is_empty());
        assert_eq!(t.get(200_000), Seen::Present(7));
        assert_eq!(t.get(139_999), Seen::Present(139_999));
        assert_eq!(t.get(150_000), Seen::Unknown);
    }

    #[test]
    fn a_person_keeps_their_tier_by_name() {
        let mut k = Known::default();
        let p = |tier: &str| Person { female: true, birth_year: Some(1990), tier: tier.into() };
        k.learn_person(3, Some(&p("creator")));
        k.learn_person(4, Some(&p("normal")));
        k.learn_person(5, Some(&p("creator")));
        k.learn_person(6, None);
        assert_eq!(k.tiers.len(), 2);
        assert_eq!(k.person_record(5).map(|p| p.tier), Some("creator".to_string()));
        assert_eq!(k.person_known(4).map(|w| k.tier_name(w).to_string()), Some("normal".to_string()));
        assert_eq!(k.person_known(6), None);
        assert!(!k.is_unknown_person(6));
        assert!(k.is_unknown_person(7));
    }
}
