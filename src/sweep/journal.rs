//! The append-only record of finished cases that `--resume` continues from.
//!
//! `DIR/cases.journal`: a first line naming the sweep (format version, crate version, SHA-256
//! of the scenario text and overrides, number of cases), the cases.csv header, then one
//! cases.csv row per finished case in the order they finished. A row is appended (one
//! write) as soon as its case finishes, so a killed sweep loses at most the cases that were
//! running; a torn last line is cut off when the journal is resumed.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::SweepError;

/// Checks a journal row; gives its case and whether its status is `ok`.
pub(crate) type RowCheck = dyn Fn(&[u8]) -> Option<(usize, bool)>;

/// File name of the journal inside the output directory.
pub const JOURNAL: &str = "cases.journal";

/// Where a finished row lies in the journal.
#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: u64,
    len: usize,
    ok: bool,
}

#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    reader: File,
    /// Rows finished before this run, by case index.
    done: HashMap<usize, Entry>,
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> SweepError + '_ {
    move |source| SweepError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The first line: identifies the sweep a journal belongs to.
pub(crate) fn identity(sha256: &str, cases: usize) -> String {
    format!(
        "# impella-sim sweep journal v1 version={} sha256={sha256} cases={cases}\n",
        env!("CARGO_PKG_VERSION")
    )
}

impl Journal {
    /// Starts an empty journal (replacing any earlier one).
    pub fn create(dir: &Path, identity: &str, header: &[u8]) -> Result<Journal, SweepError> {
        let path = dir.join(JOURNAL);
        let err = io_err(&path);
        let mut file = File::create(&path).map_err(&err)?;
        file.write_all(identity.as_bytes()).map_err(&err)?;
        file.write_all(header).map_err(&err)?;
        file.flush().map_err(&err)?;
        let reader = File::open(&path).map_err(&err)?;
        Ok(Journal {
            path: path.clone(),
            file,
            reader,
            done: HashMap::new(),
        })
    }

    /// Continues the journal in `dir` if it belongs to this sweep (starts one if there is
    /// none). `row_ok` checks a row and tells its case and whether its status is `ok`.
    pub fn resume(
        dir: &Path,
        identity: &str,
        header: &[u8],
        row_ok: &RowCheck,
    ) -> Result<Journal, SweepError> {
        let path = dir.join(JOURNAL);
        if !path.exists() {
            return Journal::create(dir, identity, header);
        }
        let err = io_err(&path);
        let mut reader = BufReader::new(File::open(&path).map_err(&err)?);
        let mut line = Vec::new();
        let mut offset: u64 = 0;
        let next_line = |reader: &mut BufReader<File>, line: &mut Vec<u8>| {
            line.clear();
            reader.read_until(b'\n', line)
        };
        let refuse = |why: &str| SweepError::Resume {
            dir: dir.display().to_string(),
            message: format!(
                "{} {why}; run without --resume to start over, or use another --out",
                path.display()
            ),
        };
        let n = next_line(&mut reader, &mut line).map_err(&err)?;
        if line != identity.as_bytes() {
            let found = String::from_utf8_lossy(&line).trim().to_string();
            return Err(refuse(&format!(
                "belongs to a different sweep (scenario text, --set overrides or impella-sim \
                 version differ: it has '{found}', this sweep is '{}')",
                identity.trim()
            )));
        }
        offset += n as u64;
        let n = next_line(&mut reader, &mut line).map_err(&err)?;
        if line != header {
            return Err(refuse(
                "has different columns (another impella-sim version)",
            ));
        }
        offset += n as u64;
        let mut done = HashMap::new();
        let mut complete_end = offset;
        loop {
            let n = next_line(&mut reader, &mut line).map_err(&err)?;
            if n == 0 || line.last() != Some(&b'\n') {
                break; // end, or a row torn by a kill
            }
            if let Some((case, ok)) = row_ok(&line) {
                done.entry(case).or_insert(Entry { offset, len: n, ok });
            }
            offset += n as u64;
            complete_end = offset;
        }
        drop(reader);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(&err)?;
        file.set_len(complete_end).map_err(&err)?;
        file.seek(SeekFrom::End(0)).map_err(&err)?;
        let reader = File::open(&path).map_err(&err)?;
        Ok(Journal {
            path: path.clone(),
            file,
            reader,
            done,
        })
    }

    /// Whether the case finished in an earlier run.
    pub fn has(&self, case: usize) -> bool {
        self.done.contains_key(&case)
    }

    /// The row of a case finished in an earlier run, and whether its status is `ok`.
    pub fn earlier_row(&mut self, case: usize) -> Result<Option<(Vec<u8>, bool)>, SweepError> {
        let Some(e) = self.done.get(&case).copied() else {
            return Ok(None);
        };
        let err = io_err(&self.path);
        self.reader.seek(SeekFrom::Start(e.offset)).map_err(&err)?;
        let mut buf = vec![0; e.len];
        self.reader.read_exact(&mut buf).map_err(&err)?;
        Ok(Some((buf, e.ok)))
    }

    /// Records a finished row (one write, so a kill cannot interleave rows).
    pub fn append(&mut self, row: &[u8]) -> Result<(), SweepError> {
        self.file.write_all(row).map_err(io_err(&self.path))
    }
}
