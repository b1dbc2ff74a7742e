//! The shared mapping of a table file and the slices of atomics it holds:
//! the only place that turns the mapping into references.

use super::*;

/// A shared mapping of the whole table file.
pub(super) struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is only accessed through atomics (and the immutable
// ranges/header, which we copy before use), so sharing it between threads
// is as safe as sharing the atomics themselves.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    pub(super) fn new(file: &File, len: usize, path: &Path) -> Result<Mapping, TableError> {
        // SAFETY: a fresh mapping of a file we hold open, with a length we
        // checked against the file's size; the kernel picks the address.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io_err(path, "mmap")(io::Error::last_os_error()));
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped; no references into it
        // outlive the Table that owns this Mapping.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

impl Table {
    pub fn live(&self) -> &Live {
        // SAFETY: the mapping is at least HEADER_SIZE long (validated), page
        // aligned, and Live sits at a 64-aligned offset inside the header; it
        // is made of atomics only, so a shared reference is sound while other
        // processes change it.
        unsafe { &*self.map.ptr.add(LIVE_OFFSET).cast::<Live>() }
    }

    pub(super) fn owners(&self) -> &[AtomicU64] {
        // SAFETY: the owners section lies inside the mapping (its bounds come
        // from Sections::new over validated counts), is 64-aligned and holds
        // slot_count + drain_count atomics.
        unsafe {
            std::slice::from_raw_parts(
                self.map.ptr.add(self.sec.owners).cast::<AtomicU64>(),
                self.total() as usize,
            )
        }
    }

    pub(super) fn bitmap(&self) -> &[AtomicU64] {
        // SAFETY: as for owners(), for the bitmap section.
        unsafe {
            std::slice::from_raw_parts(
                self.map.ptr.add(self.sec.bitmap).cast::<AtomicU64>(),
                crate::protocol::bitmap_words(self.total()),
            )
        }
    }

    pub(super) fn metas(&self) -> &[Meta] {
        // SAFETY: as for owners(), for the meta section; Meta is made of
        // AtomicU32 only and needs 4-byte alignment.
        unsafe {
            std::slice::from_raw_parts(
                self.map.ptr.add(self.sec.meta).cast::<Meta>(),
                self.total() as usize,
            )
        }
    }

    /// The protocol's view of the pool: the slots a claim may take (the
    /// draining ones, after them, are left out).
    pub fn slots(&self) -> Slots<'_, AtomicU64> {
        let n = self.size() as usize;
        Slots {
            owners: &self.owners()[..n],
            bitmap: &self.bitmap()[..crate::protocol::bitmap_words(self.size())],
            cursor: &self.live().cursor,
            sweep: &self.live().sweep_cursor,
        }
    }

    /// The protocol's view of every slot, draining ones included: for
    /// releases, reaps and transfers, never for claims.
    pub fn all_slots(&self) -> Slots<'_, AtomicU64> {
        Slots {
            owners: self.owners(),
            bitmap: self.bitmap(),
            cursor: &self.live().cursor,
            sweep: &self.live().sweep_cursor,
        }
    }
}
