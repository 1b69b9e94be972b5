//! The in-memory catalog: every live group's card fields, the discoverable groups'
//! locations by cell (`geocells.rs`), and the suggest keys. Loading a stored tantivy
//! document costs more than a whole query, so what a card shows is kept here, fed by the
//! indexer task.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::geocells::{term_at, Circle, GeoCells};
use super::text::{suggest_key_at, suggest_keys, KeyKind};
use crate::config::RankingWeights;
use crate::ranking;
use crate::store::GroupRow;

/// The dense arrays may always reach this many ids, and beyond that twice their length:
/// ids grow one by one, so they stay dense, while an odd huge id (an import may carry any)
/// goes to the side table instead of sizing an array after it.
const DENSE_FLOOR: usize = 1 << 20;

/// The first circle `Catalog::nearest` looks in, in metres.
const NEAREST_FIRST_M: f64 = 2_000.0;

/// How many leading bytes of a suggest key an entry keeps: a longer query is checked
/// against the group's name once its first bytes match. 12 holds four Chinese characters.
const KEY_BYTES: usize = 12;

/// One suggest key, as bytes that sort as the entries should: whether it starts inside
/// the name (keys from the start of names sort first, so a query finds all of those
/// before any other), its leading bytes (zero-padded, so entries sort as their keys do),
/// its kind and start in the name (to rebuild it whole), and the group (big-endian with the
/// sign bit flipped, so ids sort as numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SuggestEntry([u8; SuggestEntry::LEN]);

impl SuggestEntry {
    const LEN: usize = 1 + KEY_BYTES + 2 + 8;
    const KIND: usize = 1 + KEY_BYTES;

    fn new(inner: bool, key: [u8; KEY_BYTES], kind: KeyKind, start: u8, id: i64) -> SuggestEntry {
        let mut b = [0; Self::LEN];
        b[0] = inner as u8;
        b[1..Self::KIND].copy_from_slice(&key);
        b[Self::KIND] = kind as u8;
        b[Self::KIND + 1] = start;
        b[Self::KIND + 2..].copy_from_slice(&((id as u64) ^ (1 << 63)).to_be_bytes());
        SuggestEntry(b)
    }

    fn cut(key: &str) -> [u8; KEY_BYTES] {
        let mut out = [0; KEY_BYTES];
        let n = key.len().min(KEY_BYTES);
        out[..n].copy_from_slice(&key.as_bytes()[..n]);
        out
    }

    /// The entries of a group's name.
    fn of(name: &str, id: i64) -> impl Iterator<Item = SuggestEntry> {
        suggest_keys(name)
            .into_iter()
            .map(move |k| SuggestEntry::new(k.start > 0, Self::cut(&k.key), k.kind, k.start, id))
    }

    fn inner(&self) -> bool {
        self.0[0] != 0
    }

    fn key(&self) -> &[u8] {
        &self.0[1..Self::KIND]
    }

    fn kind(&self) -> KeyKind {
        match self.0[Self::KIND] {
            0 => KeyKind::Text,
            1 => KeyKind::Pinyin,
            _ => KeyKind::Initials,
        }
    }

    fn start(&self) -> usize {
        self.0[Self::KIND + 1] as usize
    }

    fn id(&self) -> i64 {
        let mut b = [0; 8];
        b.copy_from_slice(&self.0[Self::KIND + 2..]);
        (u64::from_be_bytes(b) ^ (1 << 63)) as i64
    }

    /// The entry as its array holds it, when the id fits in 32 bits.
    fn small(&self) -> Option<SmallEntry> {
        let id = u32::try_from(self.id()).ok()?;
        let mut b = [0; SmallEntry::LEN];
        b[..SmallEntry::ID].copy_from_slice(&self.0[1..Self::KIND + 2]);
        b[SmallEntry::ID..].copy_from_slice(&id.to_be_bytes());
        Some(SmallEntry(b))
    }
}

/// An entry of the bulk arrays: a `SuggestEntry` without the `inner` byte (each array holds
/// one side) and with a 32-bit id, 18 bytes. Within one side both sort alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SmallEntry([u8; SmallEntry::LEN]);

impl SmallEntry {
    const ID: usize = KEY_BYTES + 2;
    const LEN: usize = Self::ID + 4;

    fn wide(&self, inner: bool) -> SuggestEntry {
        let mut b = [0; SuggestEntry::LEN];
        b[0] = inner as u8;
        b[1..SuggestEntry::KIND + 2].copy_from_slice(&self.0[..Self::ID]);
        let mut id = [0; 4];
        id.copy_from_slice(&self.0[Self::ID..]);
        b[SuggestEntry::KIND + 2..].copy_from_slice(&((u32::from_be_bytes(id) as u64) ^ (1 << 63)).to_be_bytes());
        SuggestEntry(b)
    }

    fn id(&self) -> i64 {
        let mut id = [0; 4];
        id.copy_from_slice(&self.0[Self::ID..]);
        u32::from_be_bytes(id).into()
    }
}

/// Keys added beyond this many since the arrays were built (and beyond an eighth of them)
/// are merged into the arrays.
const ADDED_FLOOR: usize = 1 << 16;

/// The suggest keys of every discoverable group, about twelve a group. Most sit in two
/// sorted arrays of 18-byte entries built in one go (the keys from name starts, then the
/// others): a set of entries costs about 26 bytes each with its nodes, and more than 300 MB
/// at 1M groups. Keys added since (and those of an id beyond 32 bits) sit in a set beside
/// them; the array entries of a group unlinked since are void. Past `ADDED_FLOOR` and an
/// eighth of the arrays, the set is merged back into them.
#[derive(Debug, Default)]
struct SuggestKeys {
    bulk: [Vec<SmallEntry>; 2],
    added: BTreeSet<SuggestEntry>,
    void: HashSet<i64, ahash::RandomState>,
}

impl SuggestKeys {
    /// Sorts what a bulk load gathered.
    fn from_bulk(bulk: [Gather<SmallEntry>; 2], added: BTreeSet<SuggestEntry>) -> SuggestKeys {
        let bulk = bulk.map(|side| {
            let mut side = side.finish();
            side.sort_unstable();
            side
        });
        SuggestKeys { bulk, added, void: HashSet::default() }
    }

    fn insert(&mut self, name: &str, id: i64) {
        self.added.extend(SuggestEntry::of(name, id));
        if self.added.len() > ADDED_FLOOR.max((self.bulk[0].len() + self.bulk[1].len()) / 8) {
            self.merge();
        }
    }

    fn remove(&mut self, name: &str, id: i64) {
        for e in SuggestEntry::of(name, id) {
            self.added.remove(&e);
        }
        self.void.insert(id);
    }

    /// The live entries of one side from `from` on, in order.
    fn side_from(&self, inner: bool, from: SuggestEntry) -> impl Iterator<Item = SuggestEntry> + '_ {
        let bulk = &self.bulk[inner as usize];
        let at = bulk.partition_point(|e| e.wide(inner) < from);
        let mut old = bulk[at..]
            .iter()
            .filter(|e| self.void.is_empty() || !self.void.contains(&e.id()))
            .map(move |e| e.wide(inner))
            .peekable();
        let mut new = self.added.range(from..).take_while(move |e| e.inner() == inner).copied().peekable();
        std::iter::from_fn(move || match (old.peek(), new.peek()) {
            (Some(a), Some(b)) if b < a => new.next(),
            (Some(_), _) => old.next(),
            (None, _) => new.next(),
        })
    }

    /// Merges the added entries into the arrays and drops the void ones.
    fn merge(&mut self) {
        for inner in [false, true] {
            let floor = SuggestEntry::new(inner, [0; KEY_BYTES], KeyKind::Text, 0, i64::MIN);
            let mut merged = Vec::with_capacity(self.bulk[inner as usize].len() + self.added.len());
            merged.extend(self.side_from(inner, floor).filter_map(|e| e.small()));
            merged.shrink_to_fit();
            self.bulk[inner as usize] = merged;
        }
        self.added.retain(|e| e.small().is_none());
        self.void.clear();
    }
}

/// How a suggestion matched: where in the name, and whether by its text or its pinyin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuggestMatch {
    /// The query completes the name from its first character.
    pub at_start: bool,
    /// The query matched the name's text, not only its pinyin or initials.
    pub text: bool,
}

/// What a search needs of a group to filter, count and rank it, packed small and kept in
/// an array indexed by id: matches arrive in document order, which is close to id order,
/// so scanning many matches reads memory nearly in sequence.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hot {
    /// Discoverable and live; every other field is meaningless when false.
    pub listed: bool,
    pub category: u8,
    pub join_approval: bool,
    pub has_room: bool,
    pub located: bool,
    /// Listed for review (SPEC §7): found by search and nearby, not recommended.
    pub review: bool,
    pub lat: f64,
    pub lon: f64,
    pub adcode: u64,
    pub created_at: i64,
    pub yesterday_messages: u32,
    pub active_members: u32,
    /// The activity-and-room factor of the ranking, precomputed.
    pub quality: f32,
}

/// Bits of `Packed::flags`.
const HAS_PLACE: u8 = 1;
const HAS_CITY: u8 = 2;
const HAS_DISTRICT: u8 = 4;
const CAN_INVITE: u8 = 8;
const DISCOVERABLE: u8 = 16;
const HELD: u8 = 32;
const REVIEW: u8 = 128;
/// The row did not pack (a figure beyond 32 bits, a category not in the list, half a
/// location): it is kept whole in `Catalog::whole`.
const ODD: u8 = 64;

/// Ends each text of a packed card: a byte UTF-8 never uses.
const END: u8 = 0xff;

/// A live group's card fields that `Hot` does not hold, in one allocation: the flags, six
/// figures as 32-bit numbers, then the name and the place, city and district that are
/// present, each ended by `END`. A `GroupRow` with its five strings is about 500 bytes on
/// the heap; this is about 100, and one pointer in the dense array. The row is rebuilt from
/// it and the group's `Hot` when a page shows it (one allocation to read, as the row's was).
#[derive(Debug, Default)]
struct Packed(Option<Box<[u8]>>);

impl Packed {
    /// Where the texts begin: after the flags and the figures.
    const TEXTS: usize = 1 + 6 * 4;
    const OWNER: usize = 1;
    const CAPACITY: usize = 5;
    const MEMBERS: usize = 9;
    const FEMALE: usize = 13;
    const BIRTH_N: usize = 17;
    const BIRTH_SUM: usize = 21;

    /// The row packed beside its search fields, or a stand-in marked `ODD` when it does
    /// not fit (no value may be lost on the way back).
    fn of(g: &GroupRow, hot: &Hot, categories: &[String]) -> Packed {
        let figures = [g.owner_id, g.capacity, g.member_count, g.female_count, g.birth_n, g.birth_sum];
        let exact = categories.get(hot.category as usize) == Some(&g.category)
            && g.lat.is_some() == g.lon.is_some()
            && i64::from(hot.yesterday_messages) == g.yesterday_messages
            && i64::from(hot.active_members) == g.active_members
            && figures.iter().all(|f| u32::try_from(*f).is_ok());
        if !exact {
            return Packed(Some(Box::new([ODD])));
        }
        let texts = [Some(&g.name), g.place_name.as_ref(), g.city.as_ref(), g.district.as_ref()];
        let len = Self::TEXTS + texts.iter().flatten().map(|t| t.len() + 1).sum::<usize>();
        let mut blob = Vec::with_capacity(len);
        let mut flags = 0;
        for (on, bit) in [
            (g.place_name.is_some(), HAS_PLACE),
            (g.city.is_some(), HAS_CITY),
            (g.district.is_some(), HAS_DISTRICT),
            (g.members_can_invite, CAN_INVITE),
            (g.discoverable, DISCOVERABLE),
            (g.held, HELD),
            (g.review, REVIEW),
        ] {
            if on {
                flags |= bit;
            }
        }
        blob.push(flags);
        for f in figures {
            blob.extend_from_slice(&(f as u32).to_le_bytes());
        }
        for t in texts.into_iter().flatten() {
            blob.extend_from_slice(t.as_bytes());
            blob.push(END);
        }
        Packed(Some(blob.into_boxed_slice()))
    }

    /// Whether a live group has the id.
    fn live(&self) -> bool {
        self.0.is_some()
    }

    fn flags(&self) -> u8 {
        self.0.as_deref().map_or(0, |b| b[0])
    }

    fn is_odd(&self) -> bool {
        self.flags() & ODD != 0
    }

    fn figure(&self, at: usize) -> i64 {
        let b = self.0.as_deref().unwrap_or_default();
        b.get(at..at + 4).map_or(0, |f| u32::from_le_bytes([f[0], f[1], f[2], f[3]]).into())
    }

    fn member_count(&self) -> i64 {
        self.figure(Self::MEMBERS)
    }

    /// The texts in order: the name, then those present of place, city and district.
    fn texts(&self) -> impl Iterator<Item = &str> {
        let bytes = self.0.as_deref().and_then(|b| b.get(Self::TEXTS..)).unwrap_or_default();
        // Each piece was a whole `String`, so it is UTF-8.
        bytes.split(|b| *b == END).map(|t| std::str::from_utf8(t).unwrap_or_default())
    }

    fn name(&self) -> &str {
        self.texts().next().unwrap_or_default()
    }

    /// The row back, whole, for the group `id` with search fields `hot`.
    fn row(&self, id: i64, hot: &Hot, categories: &[String]) -> GroupRow {
        let flags = self.flags();
        let mut texts = self.texts();
        let name = texts.next().unwrap_or_default().to_string();
        let mut next_if = |bit: u8| (flags & bit != 0).then(|| texts.next().unwrap_or_default().to_string());
        let place_name = next_if(HAS_PLACE);
        let city = next_if(HAS_CITY);
        let district = next_if(HAS_DISTRICT);
        GroupRow {
            id,
            owner_id: self.figure(Self::OWNER),
            name,
            category: categories.get(hot.category as usize).cloned().unwrap_or_default(),
            lat: hot.located.then_some(hot.lat),
            lon: hot.located.then_some(hot.lon),
            place_name,
            city,
            district,
            adcode: hot.adcode,
            join_approval: hot.join_approval,
            members_can_invite: flags & CAN_INVITE != 0,
            discoverable: flags & DISCOVERABLE != 0,
            capacity: self.figure(Self::CAPACITY),
            created_at: hot.created_at,
            member_count: self.member_count(),
            female_count: self.figure(Self::FEMALE),
            birth_sum: self.figure(Self::BIRTH_SUM),
            birth_n: self.figure(Self::BIRTH_N),
            yesterday_messages: hot.yesterday_messages.into(),
            active_members: hot.active_members.into(),
            held: flags & HELD != 0,
            review: flags & REVIEW != 0,
        }
    }
}

/// A suggest candidate: how it matched, and what orders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suggested {
    pub matched: SuggestMatch,
    pub member_count: i64,
    pub id: i64,
}

/// Live groups by id, with the derived structures for search, nearby and suggest.
pub struct Catalog {
    /// Every live group's card fields beyond `hot`, by id in a dense array beside it.
    cards: Vec<Packed>,
    /// Rows kept whole: those of ids beyond the dense arrays, and those that do not pack.
    whole: HashMap<i64, GroupRow, ahash::RandomState>,
    live: usize,
    hot: Vec<Hot>,
    /// `Hot::quality` of the dense ids again, packed (NaN when not listed): ranking a large
    /// match set by quality reads 4 bytes a group instead of a whole `Hot`.
    quality: Vec<f32>,
    hot_far: HashMap<i64, Hot, ahash::RandomState>,
    /// No listed group's quality has ever exceeded this: a bound that only rises, so a
    /// ranking can tell when no unseen group could outrank what it holds.
    top_quality: f32,
    categories: Vec<String>,
    weights: RankingWeights,
    geo: GeoCells,
    suggest: SuggestKeys,
}

/// Builds a catalog from rows streamed in (faster than one insert at a time, and no
/// second copy of every row is held meanwhile).
pub struct CatalogBuilder {
    cat: Catalog,
    points: Gather<(f64, f64, i64)>,
    /// The suggest entries from name starts and from later words, and any of an id beyond
    /// 32 bits.
    bulk: [Gather<SmallEntry>; 2],
    wide: BTreeSet<SuggestEntry>,
}

/// Items gathered in chunks and moved into one exact vector at the end, each chunk given
/// back to the system once copied: a vector grown by doubling and then shrunk holds up to
/// three times its items at a moment (the suggest entries are 200 MB at 1M groups, and
/// that moment was the serving process's peak).
struct Gather<T> {
    full: Vec<Vec<T>>,
    current: Vec<T>,
}

impl<T: Copy> Gather<T> {
    const CHUNK: usize = 1 << 20;

    fn new() -> Self {
        Gather { full: Vec::new(), current: Vec::new() }
    }

    fn push(&mut self, item: T) {
        if self.current.len() == Self::CHUNK {
            self.full.push(std::mem::take(&mut self.current));
        }
        if self.current.capacity() == 0 {
            self.current.reserve_exact(Self::CHUNK);
        }
        self.current.push(item);
    }

    fn finish(self) -> Vec<T> {
        let mut all = Vec::with_capacity(self.full.iter().map(Vec::len).sum::<usize>() + self.current.len());
        for chunk in self.full.into_iter().chain([self.current]) {
            all.extend_from_slice(&chunk);
            drop(chunk);
            crate::memory::give_back_freed();
        }
        all
    }
}

impl CatalogBuilder {
    pub fn add(&mut self, row: GroupRow) {
        let cat = &mut self.cat;
        if row.listed() {
            if let Some((lat, lon)) = row.location() {
                self.points.push((lat, lon, row.id));
            }
            for e in SuggestEntry::of(&row.name, row.id) {
                match e.small() {
                    Some(small) => self.bulk[e.inner() as usize].push(small),
                    None => {
                        self.wide.insert(e);
                    }
                }
            }
        }
        let hot = cat.hot_of(&row);
        cat.set_hot(row.id, hot);
        cat.put_row(row);
    }

    pub fn finish(self) -> Catalog {
        let mut cat = self.cat;
        cat.geo = GeoCells::bulk(self.points.finish());
        cat.suggest = SuggestKeys::from_bulk(self.bulk, self.wide);
        cat
    }
}

impl Catalog {
    /// An empty catalog for the given category ids (their order gives `Hot::category`).
    pub fn new(categories: Vec<String>, weights: RankingWeights) -> Catalog {
        Catalog {
            cards: Vec::new(),
            whole: HashMap::default(),
            live: 0,
            hot: Vec::new(),
            quality: Vec::new(),
            hot_far: HashMap::default(),
            top_quality: 1.0,
            categories,
            weights,
            geo: GeoCells::default(),
            suggest: SuggestKeys::default(),
        }
    }

    /// A builder of the catalog in bulk, fed rows one at a time.
    pub fn builder(categories: Vec<String>, weights: RankingWeights) -> CatalogBuilder {
        CatalogBuilder {
            cat: Catalog::new(categories, weights),
            points: Gather::new(),
            bulk: [Gather::new(), Gather::new()],
            wide: BTreeSet::new(),
        }
    }

    /// The category ids, in the order of `Hot::category`.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The index of a category id (unknown ids map past the end).
    pub fn category_index(&self, id: &str) -> u8 {
        self.categories.iter().position(|c| c == id).unwrap_or(self.categories.len()) as u8
    }

    fn hot_of(&self, g: &GroupRow) -> Hot {
        let (lat, lon) = g.location().unwrap_or((0.0, 0.0));
        Hot {
            listed: g.listed(),
            category: self.category_index(&g.category),
            join_approval: g.join_approval,
            has_room: g.has_room(),
            located: g.location().is_some(),
            review: g.review,
            lat,
            lon,
            adcode: g.adcode,
            created_at: g.created_at,
            yesterday_messages: g.yesterday_messages.clamp(0, u32::MAX as i64) as u32,
            active_members: g.active_members.clamp(0, u32::MAX as i64) as u32,
            quality: ranking::quality(g, &self.weights),
        }
    }

    /// Where an id's entry lives: its slot in the dense arrays, or `None` for the side table.
    #[inline]
    fn dense_slot(&self, id: i64) -> Option<usize> {
        usize::try_from(id).ok().filter(|i| *i < self.hot.len())
    }

    fn store_hot(&mut self, i: usize, hot: Hot) {
        self.hot[i] = hot;
        self.quality[i] = if hot.listed { hot.quality } else { f32::NAN };
    }

    fn set_hot(&mut self, id: i64, hot: Hot) {
        if hot.listed {
            self.top_quality = self.top_quality.max(hot.quality);
        }
        let reach = DENSE_FLOOR.max(2 * self.hot.len());
        if let Ok(i) = usize::try_from(id) {
            if i >= self.hot.len() && i < reach {
                self.grow((i + 1).max(self.hot.len() + self.hot.len() / 2).min(reach));
            }
        }
        if let Some(i) = self.dense_slot(id) {
            self.store_hot(i, hot);
        } else if hot.listed {
            self.hot_far.insert(id, hot);
        } else {
            self.hot_far.remove(&id);
        }
    }

    /// Lengthens the dense arrays; side-table entries they now reach move into them.
    fn grow(&mut self, len: usize) {
        let old = self.hot.len();
        self.hot.resize(len, Hot::default());
        self.quality.resize(len, f32::NAN);
        self.cards.resize_with(len, Packed::default);
        let reached = |k: &i64| usize::try_from(*k).is_ok_and(|k| k >= old && k < len);
        let moved: Vec<i64> = self.hot_far.keys().copied().filter(reached).collect();
        for k in moved {
            if let Some(h) = self.hot_far.remove(&k) {
                self.store_hot(k as usize, h);
            }
        }
        let moved: Vec<i64> = self.whole.keys().copied().filter(reached).collect();
        for k in moved {
            if let Some(row) = self.whole.remove(&k) {
                // Packing needs the row's search fields, listed or not.
                let hot = self.hot_of(&row);
                self.store_hot(k as usize, hot);
                self.live -= 1;
                self.put_row(row);
            }
        }
    }

    /// The search fields of a discoverable group.
    #[inline]
    pub fn hot(&self, id: i64) -> Option<&Hot> {
        let h = match self.dense_slot(id) {
            Some(i) => self.hot.get(i),
            None => self.hot_far.get(&id),
        };
        h.filter(|h| h.listed)
    }

    /// The ranking quality of a discoverable group.
    #[inline]
    pub fn quality(&self, id: i64) -> Option<f32> {
        if let Some(i) = self.dense_slot(id) {
            self.quality.get(i).copied().filter(|q| !q.is_nan())
        } else {
            self.hot_far.get(&id).filter(|h| h.listed).map(|h| h.quality)
        }
    }

    /// Announces reads of a group's quality and `Hot` (see `memory::prefetch`).
    #[inline]
    pub fn prefetch(&self, id: i64) {
        if let Some(i) = self.dense_slot(id) {
            crate::memory::prefetch(&self.quality, i);
            crate::memory::prefetch(&self.hot, i);
        }
    }

    /// At least the quality of every discoverable group.
    pub fn top_quality(&self) -> f32 {
        self.top_quality
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// A live group's row, rebuilt.
    pub fn get(&self, id: i64) -> Option<Arc<GroupRow>> {
        self.row(id).map(Arc::new)
    }

    fn row(&self, id: i64) -> Option<GroupRow> {
        match self.dense_slot(id) {
            Some(i) => {
                let card = &self.cards[i];
                if !card.live() {
                    return None;
                }
                if card.is_odd() {
                    self.whole.get(&id).cloned()
                } else {
                    Some(card.row(id, &self.hot[i], &self.categories))
                }
            }
            None => self.whole.get(&id).cloned(),
        }
    }

    /// A live group's name, without rebuilding its row.
    fn name(&self, id: i64) -> Option<&str> {
        match self.dense_slot(id) {
            Some(i) if !self.cards[i].is_odd() => self.cards[i].live().then(|| self.cards[i].name()),
            _ => self.whole.get(&id).map(|g| g.name.as_str()),
        }
    }

    /// A live group's member count, without rebuilding its row.
    fn member_count(&self, id: i64) -> Option<i64> {
        match self.dense_slot(id) {
            Some(i) if !self.cards[i].is_odd() => self.cards[i].live().then(|| self.cards[i].member_count()),
            _ => self.whole.get(&id).map(|g| g.member_count),
        }
    }

    /// Stores a row where its id belongs (after `set_hot` stored its search fields).
    fn put_row(&mut self, row: GroupRow) {
        let was = match self.dense_slot(row.id) {
            Some(i) => {
                let card = Packed::of(&row, &self.hot[i], &self.categories);
                let old = std::mem::replace(&mut self.cards[i], card);
                if self.cards[i].is_odd() {
                    self.whole.insert(row.id, row);
                } else if old.is_odd() {
                    self.whole.remove(&row.id);
                }
                old.live()
            }
            None => self.whole.insert(row.id, row).is_some(),
        };
        if !was {
            self.live += 1;
        }
    }

    /// Takes a row out (before `set_hot` clears its search fields, which rebuild it).
    fn take_row(&mut self, id: i64) -> Option<GroupRow> {
        let old = match self.dense_slot(id) {
            Some(i) => {
                let old = self.row(id);
                self.cards[i] = Packed::default();
                self.whole.remove(&id);
                old
            }
            None => self.whole.remove(&id),
        };
        if old.is_some() {
            self.live -= 1;
        }
        old
    }

    /// Every live group's row, rebuilt (the packed ones in id order, then those kept whole).
    pub fn iter(&self) -> impl Iterator<Item = GroupRow> + '_ {
        let dense = (0..self.cards.len()).filter(|i| !self.cards[*i].is_odd()).filter_map(|i| self.row(i as i64));
        dense.chain(self.whole.values().cloned())
    }

    /// Every discoverable group's search fields, with its id.
    pub fn hot_iter(&self) -> impl Iterator<Item = (i64, &Hot)> {
        let dense = self.hot.iter().enumerate().map(|(i, h)| (i as i64, h));
        dense.chain(self.hot_far.iter().map(|(id, h)| (*id, h))).filter(|(_, h)| h.listed)
    }

    fn unlink(&mut self, old: &GroupRow) {
        if old.listed() {
            if let Some((lat, lon)) = old.location() {
                self.geo.remove(lat, lon, old.id);
            }
            self.suggest.remove(&old.name, old.id);
        }
    }

    /// Inserts or replaces a group.
    pub fn upsert(&mut self, row: GroupRow) {
        // The old row is rebuilt from the search fields, so before they change.
        let old = self.row(row.id);
        if old.as_ref() == Some(&row) {
            return;
        }
        let hot = self.hot_of(&row);
        self.set_hot(row.id, hot);
        if let Some(old) = old {
            let same_links = old.listed() == row.listed() && old.location() == row.location() && old.name == row.name;
            if same_links {
                self.put_row(row);
                return;
            }
            self.unlink(&old);
        }
        if row.listed() {
            if let Some((lat, lon)) = row.location() {
                self.geo.insert(lat, lon, row.id);
            }
            self.suggest.insert(&row.name, row.id);
        }
        self.put_row(row);
    }

    pub fn remove(&mut self, id: i64) {
        let old = self.take_row(id);
        self.set_hot(id, Hot::default());
        if let Some(old) = old {
            self.unlink(&old);
        }
    }

    /// Every discoverable group within `radius_m` of a point, with its exact distance.
    pub fn within(&self, lat: f64, lon: f64, radius_m: f64) -> Vec<(f64, Arc<GroupRow>)> {
        self.within_ids(lat, lon, radius_m, None).into_iter().filter_map(|(d, id)| Some((d, self.get(id)?))).collect()
    }

    /// Every discoverable group (of one category, if given) within `radius_m`, as
    /// (exact distance in metres, id).
    pub fn within_ids(&self, lat: f64, lon: f64, radius_m: f64, category: Option<u8>) -> Vec<(f64, i64)> {
        let circle = Circle::new(lat, lon, radius_m);
        let mut out = Vec::new();
        self.geo.candidates(lat, lon, radius_m, |band, id| {
            let Some(h) = self.hot(id) else { return };
            if category.is_none_or(|c| c == h.category) && circle.admits(band, h.lat, h.lon).is_some() {
                out.push((circle.distance(h.lat, h.lon), id));
            }
        });
        out
    }

    /// Of the discoverable groups (of one category, if given) within `radius_m`: how many
    /// there are, the first `limit` that come after `after` in (distance, id) order, and
    /// whether more follow. In one walk of the circle, keeping the best `limit + 1` so far:
    /// a group gets its exact distance only when bounds on it cannot tell it apart from the
    /// cursor or from the worst one kept.
    pub fn nearest_within(
        &self,
        (lat, lon): (f64, f64),
        radius_m: f64,
        category: Option<u8>,
        after: Option<(f64, i64)>,
        limit: usize,
    ) -> (usize, Vec<(f64, i64)>, bool) {
        let circle = Circle::new(lat, lon, radius_m);
        let after_term = after.map(|(d, _)| term_at(d));
        let (mut total, mut following) = (0, 0);
        // Sorted by (distance, id), with the term of the last one's distance.
        let mut best: Vec<(f64, i64)> = Vec::with_capacity(limit + 2);
        let mut worst = f64::INFINITY;
        self.geo.candidates(lat, lon, radius_m, |band, id| {
            let Some(h) = self.hot(id) else { return };
            if category.is_some_and(|c| c != h.category) {
                return;
            }
            let Some((lo, hi)) = circle.admits(band, h.lat, h.lon) else { return };
            total += 1;
            let mut exact = None;
            if let (Some((ad, aid)), Some(at)) = (after, after_term) {
                if hi < at * (1.0 - 1e-9) {
                    return;
                }
                if lo <= at * (1.0 + 1e-9) {
                    let d = circle.distance(h.lat, h.lon);
                    if d.total_cmp(&ad).then(id.cmp(&aid)) != Ordering::Greater {
                        return;
                    }
                    exact = Some(d);
                }
            }
            following += 1;
            if best.len() > limit && lo > worst * (1.0 + 1e-9) {
                return;
            }
            let d = exact.unwrap_or_else(|| circle.distance(h.lat, h.lon));
            let at = best.partition_point(|x| x.0.total_cmp(&d).then(x.1.cmp(&id)) == Ordering::Less);
            if at <= limit {
                best.insert(at, (d, id));
                best.truncate(limit + 1);
                if best.len() > limit {
                    worst = term_at(best[limit].0);
                }
            }
        });
        best.truncate(limit);
        (total, best, following > limit)
    }

    /// The nearest discoverable groups within `radius_m`, up to `limit`: those within a
    /// small circle first, widened (up to the radius) until it holds more than `limit`.
    pub fn nearest(&self, origin: (f64, f64), radius_m: f64, limit: usize) -> Vec<(f64, i64)> {
        let mut reach = NEAREST_FIRST_M.min(radius_m);
        loop {
            let (total, page, _) = self.nearest_within(origin, reach, None, None, limit);
            if total > limit || reach >= radius_m {
                return page;
            }
            reach = (reach * 4.0).min(radius_m);
        }
    }

    /// Discoverable groups with a word whose text, pinyin or initials (those of the words
    /// after it included) start with `prefix`, each with its best match: first those whose
    /// name starts so, from up to `scan` keys in key order, then, while fewer than `wanted`
    /// were found, those with a later word that does, from up to `scan` keys more.
    pub fn suggest_candidates(&self, prefix: &str, wanted: usize, scan: usize) -> Vec<Suggested> {
        let probe = SuggestEntry::cut(prefix);
        let probe_len = prefix.len().min(KEY_BYTES);
        let mut best: HashMap<i64, SuggestMatch, ahash::RandomState> = HashMap::default();
        for inner in [false, true] {
            if inner && best.len() >= wanted {
                break;
            }
            let from = SuggestEntry::new(inner, probe, KeyKind::Text, 0, i64::MIN);
            for e in self.suggest.side_from(inner, from).take(scan) {
                if e.key()[..probe_len] != probe[..probe_len] {
                    break;
                }
                let id = e.id();
                if self.hot(id).is_none() {
                    continue;
                }
                // The entry holds the key's first bytes only; a longer prefix needs all of it.
                if prefix.len() > KEY_BYTES
                    && !self.name(id).is_some_and(|name| suggest_key_at(name, e.kind(), e.start()).starts_with(prefix))
                {
                    continue;
                }
                let m = SuggestMatch { at_start: !e.inner(), text: e.kind() == KeyKind::Text };
                let slot = best.entry(id).or_insert(m);
                if (m.at_start, m.text) > (slot.at_start, slot.text) {
                    *slot = m;
                }
            }
        }
        best.into_iter()
            .filter_map(|(id, matched)| Some(Suggested { matched, member_count: self.member_count(id)?, id }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::haversine_m;

    fn row(id: i64) -> GroupRow {
        GroupRow { lat: Some(30.0), lon: Some(120.0), yesterday_messages: id % 7, ..GroupRow::sample(id) }
    }

    fn categories() -> Vec<String> {
        vec!["outdoor".into(), "games".into()]
    }

    #[test]
    fn a_packed_card_gives_back_the_row_it_was_made_from() {
        let full = GroupRow {
            place_name: Some("西湖".into()),
            city: Some("杭州市".into()),
            district: None,
            category: "games".into(),
            adcode: 330_106_000_000,
            created_at: -5,
            member_count: 40,
            capacity: 500,
            female_count: 12,
            birth_sum: 40 * 1995,
            birth_n: 40,
            active_members: 9,
            members_can_invite: false,
            held: true,
            ..row(3)
        };
        let odd = [
            GroupRow { owner_id: 1 << 40, ..row(4) },
            GroupRow { birth_sum: -1, ..row(5) },
            GroupRow { yesterday_messages: 1 << 33, ..row(6) },
            GroupRow { category: "unknown".into(), ..row(7) },
            GroupRow { lon: None, ..row(8) },
        ];
        let plain = [GroupRow::sample(9), GroupRow { name: String::new(), place_name: Some(String::new()), ..row(10) }];
        let mut c = Catalog::new(categories(), RankingWeights::default());
        let rows: Vec<GroupRow> = [full].into_iter().chain(odd).chain(plain).collect();
        for r in &rows {
            c.upsert(r.clone());
        }
        for r in &rows {
            assert_eq!(c.get(r.id).as_deref(), Some(r), "row {}", r.id);
        }
        assert_eq!(c.whole.len(), 5, "the rows that do not pack are kept whole");
        assert!(c.get(3).is_some_and(|g| !g.listed()) && c.hot(3).is_none());
        c.remove(4);
        c.remove(9);
        assert!(c.get(4).is_none() && c.get(9).is_none() && c.whole.len() == 4);
        assert_eq!((c.len(), c.iter().count()), (rows.len() - 2, rows.len() - 2));
    }

    #[test]
    fn nearest_pages_agree_with_sorting_every_group_by_exact_distance() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut builder = Catalog::builder(categories(), RankingWeights::default());
        let spot = |rng: &mut rand::rngs::StdRng| (30.0 + rng.gen_range(-0.2..0.2), 120.0 + rng.gen_range(-0.2..0.2));
        let mut rows = Vec::new();
        for id in 1..=3000 {
            // Every tenth shares the place of the one before, so distances tie.
            let (lat, lon) = match rows.last() {
                Some(GroupRow { lat: Some(a), lon: Some(b), .. }) if id % 10 == 0 => (*a, *b),
                _ => spot(&mut rng),
            };
            let category = if id % 3 == 0 { "games" } else { "outdoor" };
            rows.push(GroupRow { lat: Some(lat), lon: Some(lon), category: category.into(), ..row(id) });
        }
        for r in &rows[..2000] {
            builder.add(r.clone());
        }
        let mut c = builder.finish();
        for r in &rows[2000..] {
            c.upsert(r.clone());
        }
        // Some move, some stop being discoverable, some go.
        for id in (1..=3000).step_by(7) {
            let (lat, lon) = spot(&mut rng);
            let moved = GroupRow { lat: Some(lat), lon: Some(lon), ..rows[id - 1].clone() };
            rows[id - 1] = moved.clone();
            c.upsert(moved);
        }
        for id in (5..=3000).step_by(31) {
            c.remove(id as i64);
        }
        for id in (6..=3000).step_by(37) {
            rows[id - 1].discoverable = false;
            c.upsert(rows[id - 1].clone());
        }
        for _ in 0..20 {
            let (lat, lon) = spot(&mut rng);
            let radius_m = rng.gen_range(100.0..30_000.0);
            let category = rng.gen_bool(0.3).then_some(1u8);
            let mut expected: Vec<(f64, i64)> = c
                .hot_iter()
                .filter(|(_, h)| category.is_none_or(|k| k == h.category))
                .map(|(id, h)| (haversine_m(lat, lon, h.lat, h.lon), id))
                .filter(|(d, _)| *d <= radius_m)
                .collect();
            expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let limit = rng.gen_range(1..40);
            let (mut after, mut seen) = (None, Vec::new());
            loop {
                let (total, page, more) = c.nearest_within((lat, lon), radius_m, category, after, limit);
                assert_eq!(total, expected.len());
                seen.extend(page.iter().copied());
                assert_eq!(more, seen.len() < expected.len(), "after {after:?}");
                if !more {
                    break;
                }
                after = page.last().copied();
            }
            assert_eq!(seen, expected, "from ({lat}, {lon}) r {radius_m}");
            let mut within = c.within_ids(lat, lon, radius_m, category);
            within.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            assert_eq!(within, expected);
            if category.is_none() {
                let nearest = c.nearest((lat, lon), radius_m, 10);
                assert_eq!(nearest, expected[..expected.len().min(10)]);
            }
        }
    }

    /// Every suggest candidate of `prefix`, sorted, as (id, at start, by text).
    fn candidates(c: &Catalog, prefix: &str) -> Vec<(i64, bool, bool)> {
        let mut found: Vec<_> = c
            .suggest_candidates(prefix, 1000, 100_000)
            .iter()
            .map(|s| (s.id, s.matched.at_start, s.matched.text))
            .collect();
        found.sort_unstable();
        found
    }

    #[test]
    fn suggest_keys_added_and_removed_after_a_bulk_load_answer_as_a_fresh_load_would() {
        let names = ["北京户外徒步群", "户外露营", "北京桌游", "hiking club 2024", "上海户外", "徒步北京"];
        let named =
            |id: i64, shift: usize| GroupRow { name: names[(id as usize + shift) % names.len()].into(), ..row(id) };
        let mut b = Catalog::builder(categories(), RankingWeights::default());
        let mut rows: Vec<GroupRow> = (1..=60).map(|id| named(id, 0)).collect();
        // An id beyond 32 bits keeps its keys beside the arrays.
        rows.push(named(1 << 40, 0));
        for r in &rows {
            b.add(r.clone());
        }
        let mut c = b.finish();
        for id in (1..=60).step_by(3) {
            let renamed = named(id, 1);
            rows[id as usize - 1] = renamed.clone();
            c.upsert(renamed);
        }
        for id in [2, 5, 1 << 40] {
            c.remove(id);
            rows.retain(|r| r.id != id);
        }
        let hidden = GroupRow { held: true, ..named(8, 0) };
        c.upsert(hidden.clone());
        rows.retain(|r| r.id != 8);
        let added = named(70, 2);
        c.upsert(added.clone());
        rows.push(added);
        let fresh = {
            let mut b = Catalog::builder(categories(), RankingWeights::default());
            for r in &rows {
                b.add(r.clone());
            }
            b.finish()
        };
        let prefixes = ["北京", "户外", "hw", "huwai", "hwtb", "hiking", "2024", "tubu", "北京户外徒步群", "上"];
        for p in prefixes {
            assert_eq!(candidates(&c, p), candidates(&fresh, p), "prefix {p}");
        }
        assert!(!c.suggest.void.is_empty() && !c.suggest.added.is_empty());
        c.suggest.merge();
        assert!(c.suggest.void.is_empty() && c.suggest.added.is_empty());
        for p in prefixes {
            assert_eq!(candidates(&c, p), candidates(&fresh, p), "prefix {p} after the merge");
        }
        assert!(!candidates(&c, "北京").is_empty() && !candidates(&c, "hwtb").is_empty());
    }

    #[test]
    fn a_huge_id_does_not_size_the_dense_arrays_and_every_id_stays_found() {
        let mut c = Catalog::new(vec!["outdoor".into()], RankingWeights::default());
        c.upsert(row(60_000_000));
        assert!(c.hot.len() <= DENSE_FLOOR, "dense arrays grew to {}", c.hot.len());
        // Ids arriving one by one stay dense; a side-table id the arrays come to reach moves in.
        // (The search fields alone, as `upsert` sets them, to keep the test quick.)
        c.upsert(row(1_500_000));
        for id in 1..=1_200_000 {
            c.set_hot(id, Hot { listed: true, quality: 1.0 + (id % 7) as f32, ..Hot::default() });
        }
        assert!(c.hot.len() > 1_500_000 && c.hot.len() < 4_000_000, "dense length {}", c.hot.len());
        assert!(!c.hot_far.contains_key(&1_500_000), "moved into the arrays");
        for id in [1, 999_999, 1_200_000, 1_500_000, 60_000_000] {
            let hot = c.hot(id).unwrap_or_else(|| panic!("{id} lost"));
            assert_eq!(c.quality(id), Some(hot.quality));
        }
        assert!(c.hot(1_200_001).is_none() && c.quality(-5).is_none());
        assert_eq!(c.get(1_500_000).map(|g| g.id), Some(1_500_000));
        assert_eq!(c.get(60_000_000).map(|g| g.id), Some(60_000_000));
        assert_eq!(c.len(), 2);
        assert_eq!(c.hot_iter().count(), 1_200_002);
        c.remove(60_000_000);
        c.set_hot(7, Hot::default());
        assert!(c.hot(60_000_000).is_none() && c.hot(7).is_none());
        assert_eq!(c.hot_iter().count(), 1_200_000);
        assert!(c.get(60_000_000).is_none());
        assert_eq!((c.len(), c.iter().count()), (1, 1));
    }
}
