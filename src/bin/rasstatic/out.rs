//! Where the command's output goes. Nothing is printed with `println!`,
//! which panics when a write fails: standard output is locked once,
//! buffered, and every write error is returned to `main`, which exits
//! quietly with status 0 when the reader went away (EPIPE: `rasstatic show
//! | head -1`) and with a message and status 1 for any other error (a full
//! disk). Messages go to standard error through [`complain`], which never
//! fails.

use std::io::{self, BufWriter, Write};

pub use rasstatic::text::escape;

/// Why a subcommand failed.
#[derive(Debug)]
pub enum Failure {
    /// A message for standard error; exit status 1.
    Msg(String),
    /// Writing standard output failed.
    Output(io::Error),
}

impl From<String> for Failure {
    fn from(m: String) -> Failure {
        Failure::Msg(m)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Output(e)
    }
}

impl Failure {
    /// A failed write after the table was changed: say what was done, so
    /// that nobody takes the failure for the change not having happened. A
    /// closed pipe stays a quiet exit.
    pub fn after(done: &str, e: io::Error) -> Failure {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::Output(e)
        } else {
            Failure::Msg(format!("{done}, but cannot write the output: {e}"))
        }
    }
}

/// Standard output, locked and buffered.
pub struct Out(BufWriter<io::StdoutLock<'static>>);

impl Out {
    pub fn new() -> Out {
        Out(BufWriter::with_capacity(64 * 1024, io::stdout().lock()))
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// One line on standard error, prefixed "rasstatic: ". A failure to write
/// it is ignored: there is nowhere left to report it.
pub fn complain(msg: &str) {
    let _ = writeln!(io::stderr().lock(), "rasstatic: {msg}");
}
