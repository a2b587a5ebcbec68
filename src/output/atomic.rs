//! All-or-nothing output: files are written under temporary names and renamed into place
//! only when every one of them is complete.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Suffix of files still being written.
const PARTIAL: &str = ".partial";

/// A set of output files that appear together or not at all.
#[derive(Debug)]
pub struct StagedDir {
    dir: PathBuf,
    staged: Vec<PathBuf>,
    committed: bool,
}

impl StagedDir {
    /// Creates `dir` if needed.
    pub fn new(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(StagedDir {
            dir: dir.to_path_buf(),
            staged: Vec::new(),
            committed: false,
        })
    }

    /// The temporary path to write `name` to; it is renamed to `name` on commit.
    pub fn path(&mut self, name: &str) -> PathBuf {
        let p = self.dir.join(format!("{name}{PARTIAL}"));
        self.staged.push(p.clone());
        p
    }

    /// Renames every staged file into place, in the order they were staged.
    pub fn commit(mut self) -> io::Result<()> {
        for p in &self.staged {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(PARTIAL))
                .expect("staged names end in .partial");
            fs::rename(p, self.dir.join(name))?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for StagedDir {
    /// A run that fails before commit leaves no partial files behind.
    fn drop(&mut self) {
        if !self.committed {
            for p in &self.staged {
                let _ = fs::remove_file(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_appear_only_on_commit() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = StagedDir::new(tmp.path()).unwrap();
        fs::write(s.path("a.csv"), "x").unwrap();
        assert!(!tmp.path().join("a.csv").exists());
        s.commit().unwrap();
        assert!(tmp.path().join("a.csv").exists());
        assert!(!tmp.path().join("a.csv.partial").exists());
    }

    #[test]
    fn dropped_without_commit_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let mut s = StagedDir::new(tmp.path()).unwrap();
            fs::write(s.path("a.csv"), "x").unwrap();
        }
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
