//! Text building: template expansion for names, descriptions and announcements, and JSON string
//! literals for the output lines.

use std::fmt::Write as _;

use anyhow::Result;

/// Appends `s` as a JSON string literal.
pub(super) fn push_json_str(buf: &mut String, s: &str) -> Result<()> {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if (c as u32) < 0x20 => write!(buf, "\\u{:04x}", c as u32)?,
            c => buf.push(c),
        }
    }
    buf.push('"');
    Ok(())
}

/// Values that fill the placeholders of name, description and announcement templates.
pub(super) struct Fill<'a> {
    pub(super) c: &'a str,
    pub(super) d: &'a str,
    pub(super) l: &'a str,
    pub(super) h: &'a str,
    pub(super) p: &'a str,
    pub(super) a: &'a str,
    pub(super) t: &'a str,
    pub(super) n: u32,
}

pub(super) fn expand(template: &str, f: &Fill, out: &mut String) -> Result<()> {
    let mut chars = template.chars();
    while let Some(ch) = chars.next() {
        if ch != '{' {
            out.push(ch);
            continue;
        }
        let key = chars.next();
        // Skip the closing brace.
        chars.next();
        match key {
            Some('c') => out.push_str(f.c),
            Some('d') => out.push_str(f.d),
            Some('l') => out.push_str(f.l),
            Some('h') => out.push_str(f.h),
            Some('p') => out.push_str(f.p),
            Some('a') => out.push_str(f.a),
            Some('t') => out.push_str(f.t),
            Some('n') => write!(out, "{}", f.n)?,
            _ => {}
        }
    }
    Ok(())
}
