//! Reading a table without mapping it, for the read-only commands.
//!
//! A mapping raises SIGBUS when the file is truncated under it (root can
//! do that in place, whatever the table's users do), so `show` and
//! `stats` read with `pread` into private buffers instead: a short read is
//! an error, never a signal. The header is validated first, as for a
//! mapping, and again before each chunk of slots, whose size is bounded
//! ([`CHUNK`] slots), so memory stays bounded whatever the pool size.
//!
//! What a reader returns is a snapshot for display. Each chunk is read
//! twice and a slot is taken from two copies that agree (a display record
//! being rewritten meanwhile is dropped, as [`super::meta::read`] drops
//! one mid-write); nothing read here may decide ownership.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::layout::{Fixed, Meta, Sections, LIVE_OFFSET};
use super::{
    boot_id, check_name, ensure_dir, flock, io_err, meta, namespace_matches, open_path,
    read_and_validate, Counters, Lease, TableError, TableLiveness,
};
use crate::owner::Owner;
use crate::pool::Pool;
use crate::protocol::{judge_reset, Liveness, ResetState};

/// Slots read per `pread`: 64 KiB of owner words and 208 KiB of records.
pub const CHUNK: u32 = 4096;

/// A table opened for reading only, never mapped.
pub struct Reader {
    path: PathBuf,
    file: File,
    fixed: Fixed,
    pool: Pool,
    /// Draining addresses: slots `size()..total()`.
    drain: Vec<u32>,
    sec: Sections,
    liveness_known: bool,
}

fn word_at(buf: &[u8], i: usize) -> u64 {
    u64::from_ne_bytes(buf[i * 8..i * 8 + 8].try_into().unwrap())
}

impl Reader {
    /// Open table `name` in `dir` for reading. Refuses what
    /// [`super::Table::open_existing`] refuses.
    pub fn open(dir: &Path, name: &str) -> Result<Reader, TableError> {
        check_name(name)?;
        ensure_dir(dir, false)?;
        let path = super::table_path(dir, name);
        loop {
            let file = open_path(&path)?.ok_or_else(|| {
                io_err(&path, "open")(std::io::Error::from(std::io::ErrorKind::NotFound))
            })?;
            flock(&file, libc::LOCK_SH, &path)?;
            let shape = read_and_validate(&file, &path)?;
            let r = Reader {
                sec: shape.sections(),
                liveness_known: namespace_matches(&shape.fixed),
                path: path.clone(),
                file,
                fixed: shape.fixed,
                pool: shape.pool,
                drain: shape.drain,
            };
            let word = r.live_word(0)?;
            let named = super::same_file(&r.file, &r.path);
            struct Resetter(bool);
            impl Liveness for Resetter {
                fn is_alive(&self, o: Owner) -> bool {
                    self.0 && o.is_alive()
                }
            }
            let known = r.liveness_known && r.fixed.boot_id == boot_id();
            match judge_reset(word, named, &Resetter(known)) {
                ResetState::InUse => {}
                ResetState::Replaced => continue,
                ResetState::Abandoned(_) | ResetState::Resetting(_) => {
                    return Err(TableError::ResetAbandoned {
                        path,
                        pid: Owner::from_word(word).map_or(0, |o| o.pid()),
                    })
                }
            }
            flock(&r.file, libc::LOCK_UN, &path)?;
            return Ok(r);
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Addresses in the pool.
    pub fn size(&self) -> u32 {
        self.fixed.slot_count
    }

    /// Every slot: the pool's, then the draining ones.
    pub fn total(&self) -> u32 {
        self.fixed.slot_count + self.fixed.drain_count
    }

    /// When the table's pool definition was read (unix milliseconds).
    pub fn defined_ms(&self) -> u64 {
        self.fixed.defined_ms
    }

    pub fn created(&self) -> u64 {
        self.fixed.created
    }

    /// The definition as the administrator wrote it when the table was made.
    pub fn spec(&self) -> String {
        String::from_utf8_lossy(&self.fixed.spec[..self.fixed.spec_len as usize]).into_owned()
    }

    /// How this process may judge the holders' liveness (from another PID
    /// namespace it cannot: every holder then counts as alive).
    pub fn liveness(&self) -> TableLiveness {
        TableLiveness {
            known: self.liveness_known,
        }
    }

    /// `Ok` when this process can tell whether holders are alive.
    pub fn check_liveness(&self) -> Result<(), TableError> {
        self.liveness().check(&self.path)
    }

    fn changed(&self, why: String) -> TableError {
        TableError::Changed {
            path: self.path.clone(),
            why,
        }
    }

    /// Check that the file is still the table validated at open, and long
    /// enough: before every read.
    fn recheck(&self) -> Result<(), TableError> {
        let size = self
            .file
            .metadata()
            .map_err(io_err(&self.path, "fstat"))?
            .len();
        if size < self.fixed.file_size {
            return Err(self.changed(format!(
                "truncated to {size} bytes (it needs {})",
                self.fixed.file_size
            )));
        }
        let mut buf = vec![0u8; std::mem::size_of::<Fixed>()];
        self.read_exact(&mut buf, 0)?;
        // SAFETY: Fixed is repr(C), Copy, made only of integers and byte
        // arrays, so any bit pattern is valid; the buffer has its size.
        let now: Fixed = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
        let a = &self.fixed;
        if now.magic != a.magic
            || now.layout_version != a.layout_version
            || now.slot_count != a.slot_count
            || now.range_count != a.range_count
            || now.file_size != a.file_size
            || now.created != a.created
            || now.drain_count != a.drain_count
        {
            return Err(self.changed("its header was rewritten".into()));
        }
        Ok(())
    }

    fn read_exact(&self, buf: &mut [u8], off: u64) -> Result<(), TableError> {
        match self.file.read_exact_at(buf, off) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(self.changed("it became shorter while read".into()))
            }
            Err(e) => Err(io_err(&self.path, "read")(e)),
        }
    }

    /// The live header word at `index` (8-byte words from [`LIVE_OFFSET`]).
    fn live_word(&self, index: usize) -> Result<u64, TableError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b, (LIVE_OFFSET + index * 8) as u64)?;
        Ok(u64::from_ne_bytes(b))
    }

    /// The counters, read from the header.
    pub fn counters(&self) -> Result<Counters, TableError> {
        self.recheck()?;
        // Live: retired, cursor, assigned, refused, ended[16],
        // watchdog_beat, sweep_cursor, swept_at, superseded,
        // claim_deadline_ns, hang_deadline_ns, fenced.
        let mut b = vec![0u8; 27 * 8];
        self.read_exact(&mut b, LIVE_OFFSET as u64)?;
        Ok(Counters {
            assigned: word_at(&b, 2),
            refused: word_at(&b, 3),
            ended: std::array::from_fn(|i| word_at(&b, 4 + i)),
            claim_deadline_ns: word_at(&b, 24),
            hang_deadline_ns: word_at(&b, 25),
            fenced: word_at(&b, 26),
        })
    }

    /// Every slot, in order (the draining ones last), read `CHUNK` slots
    /// at a time.
    pub fn leases(&self) -> ReaderLeases<'_> {
        self.leases_in(0, self.total())
    }

    /// `count` slots from `first` on (clipped to the table).
    pub fn leases_in(&self, first: u32, count: u32) -> ReaderLeases<'_> {
        let end = first.saturating_add(count).min(self.total());
        ReaderLeases {
            r: self,
            next: first.min(end),
            end,
            buf: Vec::new(),
            pos: 0,
            failed: false,
        }
    }

    /// Read slots `[first, first + n)`: owner words and records, twice,
    /// keeping what two copies agree on.
    fn chunk(&self, first: u32, n: u32) -> Result<Vec<Lease>, TableError> {
        let ms = std::mem::size_of::<Meta>();
        let (n_, f) = (n as usize, first as usize);
        let read = |o: &mut [u8], m: &mut [u8]| -> Result<(), TableError> {
            self.recheck()?;
            self.read_exact(o, (self.sec.owners + f * 8) as u64)?;
            self.read_exact(m, (self.sec.meta + f * ms) as u64)
        };
        let (mut o1, mut m1) = (vec![0u8; n_ * 8], vec![0u8; n_ * ms]);
        let (mut o2, mut m2) = (o1.clone(), m1.clone());
        read(&mut o1, &mut m1)?;
        read(&mut o2, &mut m2)?;
        let mut out = Vec::with_capacity(n_);
        for i in 0..n_ {
            let mut word = word_at(&o2, i);
            if word != word_at(&o1, i) {
                // Changed between the copies: read it alone until two
                // reads agree (a word is 8 aligned bytes; the kernel's
                // copy of it is not promised to be one load).
                let mut b = [0u8; 8];
                let off = (self.sec.owners + (f + i) * 8) as u64;
                let mut prev = word;
                for _ in 0..8 {
                    self.read_exact(&mut b, off)?;
                    word = u64::from_ne_bytes(b);
                    if word == prev {
                        break;
                    }
                    prev = word;
                }
            }
            // The sticky cell (word 4) is not part of the record.
            let (a, b) = (&m1[i * ms..(i + 1) * ms], &m2[i * ms..(i + 1) * ms]);
            let same = a[..16] == b[..16] && a[20..] == b[20..];
            let rec = if same { meta::from_bytes(b) } else { None };
            let slot = first + i as u32;
            let addr = super::slot_addr(&self.pool, &self.drain, slot);
            let mut l = Lease::new(slot, addr, word, rec);
            l.draining = slot >= self.size();
            out.push(l);
        }
        Ok(out)
    }
}

/// The slots of a [`Reader`], a chunk at a time. Yields `Err` once (and
/// then ends) if the file is truncated or rewritten while read.
pub struct ReaderLeases<'a> {
    r: &'a Reader,
    next: u32,
    end: u32,
    buf: Vec<Lease>,
    pos: usize,
    failed: bool,
}

impl Iterator for ReaderLeases<'_> {
    type Item = Result<Lease, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.pos == self.buf.len() {
            if self.next >= self.end {
                return None;
            }
            let n = CHUNK.min(self.end - self.next);
            match self.r.chunk(self.next, n) {
                Ok(v) => {
                    self.buf = v;
                    self.pos = 0;
                    self.next += n;
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        let l = self.buf[self.pos].clone();
        self.pos += 1;
        Some(Ok(l))
    }
}
