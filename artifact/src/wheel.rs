//! Installing a wheel into a site-packages directory, natively, per the binary distribution
//! format (PyPA "Binary distribution format", formerly PEP 427):
//!
//! - the archive passes the same hostile-archive checks as [`identify`](crate::identify)
//!   (paths, links, duplicates, counts, expansion) before anything is written;
//! - `*.dist-info/WHEEL` must declare `Wheel-Version: 1.x`;
//! - `*.dist-info/RECORD` must list every file of the archive with its sha256 and size, and
//!   every file it lists must be in the archive. Only `RECORD` itself and its signatures
//!   (`RECORD.jws`, `RECORD.p7s`) go unhashed; a hashless RECORD line for a `.pyc` the archive
//!   does not contain is tolerated (installers list the bytecode they would compile);
//! - every file's bytes are hashed as they are written and compared with RECORD;
//! - `<name>-<version>.data/purelib/` and `platlib/` go into the site directory like the
//!   archive root; `scripts/` are checked against RECORD and not installed (mcpin starts a
//!   server through its console-script entry point, written by the installer, never through a
//!   wheel's own scripts); `headers/`, `data/` and anything else would install outside the site
//!   directory and are refused.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Seek, SeekFrom};
use std::path::Path;

use base64::Engine as _;
use mcpin_attestation::EntryPoint;

use crate::unpacked::{Unpacked, UnpackedFile, copy_exact, create_file};
use crate::zipfile::{check_entries, checked_entry_path, read_zip_entry};
use crate::{ArtifactError, Limits, digest_reader, python};

/// A wheel unpacked into a site directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedWheel {
    /// The wheel's digests and every file written, relative to the site directory.
    pub unpacked: Unpacked,
    /// `<name>-<version>.dist-info`.
    pub dist_info: String,
    /// `[console_scripts]` of its `entry_points.txt`.
    pub console_scripts: Vec<EntryPoint>,
    /// `.data/scripts/` files: checked against RECORD, not installed.
    pub skipped_scripts: Vec<String>,
}

/// One line of RECORD.
struct RecordLine {
    /// Lowercase hex sha256, or `None` for an unhashed line.
    sha256: Option<String>,
    size: Option<u64>,
}

/// Where an archive path goes.
enum Place {
    Site(String),
    /// A `.data/scripts/` file: verified, not written.
    Skip,
}

/// Unpacks `wheel` into `site` (which must exist and may already hold other wheels; a file
/// that another wheel already installed is an error). On error `site` may hold part of the
/// wheel: unpack into a staging directory and discard it on failure.
pub fn unpack_wheel(
    wheel: &Path,
    site: &Path,
    limits: &Limits,
) -> Result<UnpackedWheel, ArtifactError> {
    // One handle for hashing and unpacking, so the bytes hashed are the bytes unpacked.
    let mut file = fs_err::File::open(wheel)?;
    let digests = digest_reader(&mut file)?;
    file.seek(SeekFrom::Start(0))?;
    let mut archive = zip::ZipArchive::new(file.into_file())?;
    let names = check_entries(&mut archive, limits)?;

    let mut files = Vec::new();
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index)?;
        if !entry.is_dir() {
            files.push(checked_entry_path(&entry.name()?)?);
        }
    }
    let dist_info = dist_info_dir(&names)?;
    let layout = |why: String| ArtifactError::WheelLayout {
        path: dist_info.clone(),
        why,
    };
    let wheel_meta = read_zip_entry(&mut archive, &format!("{dist_info}/WHEEL"), limits)?;
    let version = std::str::from_utf8(&wheel_meta)
        .ok()
        .and_then(|text| python::core_metadata_field(text, "Wheel-Version"))
        .ok_or_else(|| layout("WHEEL has no `Wheel-Version`".into()))?;
    if version.split('.').next() != Some("1") {
        return Err(layout(format!(
            "Wheel-Version {version} is not supported (this installer reads 1.x)"
        )));
    }
    let record_path = format!("{dist_info}/RECORD");
    let record = parse_record(&read_zip_entry(&mut archive, &record_path, limits)?)?;
    let unhashed = [
        record_path.clone(),
        format!("{dist_info}/RECORD.jws"),
        format!("{dist_info}/RECORD.p7s"),
    ];
    check_record_covers(&files, &record, &unhashed)?;
    let entry_points_path = format!("{dist_info}/entry_points.txt");
    let console_scripts = if names.contains(&entry_points_path) {
        python::console_scripts(&read_zip_entry(&mut archive, &entry_points_path, limits)?)
    } else {
        Vec::new()
    };
    let data_dir = format!(
        "{}.data",
        dist_info.strip_suffix(".dist-info").unwrap_or(&dist_info)
    );

    let mut written = Vec::new();
    let mut skipped_scripts = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index)?;
        let path = checked_entry_path(&entry.name()?)?;
        let place = place(&path, &data_dir)?;
        if entry.is_dir() {
            if let Place::Site(relative) = place {
                fs_err::create_dir_all(site.join(relative))?;
            }
            continue;
        }
        let size = entry.size();
        let executable = entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0);
        let sha256 = match &place {
            Place::Site(relative) => {
                let target = site.join(relative);
                if let Some(parent) = target.parent() {
                    fs_err::create_dir_all(parent)?;
                }
                let mut out = create_file(&target, executable).map_err(|error| {
                    if error.kind() == io::ErrorKind::AlreadyExists {
                        ArtifactError::UnsafeEntry {
                            path: path.clone(),
                            why: "another entry or wheel already installs this path",
                        }
                    } else {
                        error.into()
                    }
                })?;
                copy_exact(&mut entry, &mut out, size, &path)?
            }
            Place::Skip => copy_exact(&mut entry, &mut io::sink(), size, &path)?,
        };
        let mismatch = |why: String| ArtifactError::Record {
            path: path.clone(),
            why,
        };
        if let Some(line) = record.get(&path) {
            if let Some(expected) = &line.sha256
                && expected != &sha256
            {
                return Err(mismatch(format!(
                    "its bytes hash to sha256 {sha256}, RECORD says {expected}"
                )));
            }
            if let Some(expected) = line.size
                && expected != size
            {
                return Err(mismatch(format!(
                    "it is {size} bytes, RECORD says {expected}"
                )));
            }
        }
        match place {
            Place::Site(relative) => written.push(UnpackedFile {
                path: relative,
                size,
                sha256,
                executable,
            }),
            Place::Skip => skipped_scripts.push(path),
        }
    }
    Ok(UnpackedWheel {
        unpacked: Unpacked {
            digests,
            files: written,
        },
        dist_info,
        console_scripts,
        skipped_scripts,
    })
}

/// The one top-level `*.dist-info` directory.
fn dist_info_dir(names: &std::collections::HashSet<String>) -> Result<String, ArtifactError> {
    let mut dirs: Vec<&str> = names
        .iter()
        .filter_map(|name| name.split_once('/').map(|(top, _)| top))
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    match dirs.as_slice() {
        [dir] => Ok((*dir).to_owned()),
        [] => Err(ArtifactError::NotAPackage(
            "the wheel has no top-level *.dist-info directory".into(),
        )),
        _ => Err(ArtifactError::NotAPackage(format!(
            "the wheel has several .dist-info directories: {}",
            dirs.join(", ")
        ))),
    }
}

fn place(path: &str, data_dir: &str) -> Result<Place, ArtifactError> {
    let layout = |why: String| ArtifactError::WheelLayout {
        path: path.to_owned(),
        why,
    };
    let (top, rest) = path.split_once('/').unwrap_or((path, ""));
    if top.ends_with(".data") && top != data_dir {
        return Err(layout(format!("a .data directory other than `{data_dir}`")));
    }
    if top != data_dir {
        return Ok(Place::Site(path.to_owned()));
    }
    let (scheme, inner) = rest.split_once('/').unwrap_or((rest, ""));
    match scheme {
        "purelib" | "platlib" if !inner.is_empty() => Ok(Place::Site(inner.to_owned())),
        "purelib" | "platlib" => Ok(Place::Skip),
        "scripts" => Ok(Place::Skip),
        "headers" | "data" => Err(layout(format!(
            "`{scheme}` files install outside the site directory, which mcpin does not do"
        ))),
        _ => Err(layout(format!("unknown install scheme `{scheme}`"))),
    }
}

/// RECORD: CSV lines `path,algorithm=urlsafe-base64-digest,size`.
fn parse_record(bytes: &[u8]) -> Result<BTreeMap<String, RecordLine>, ArtifactError> {
    let bad = |path: &str, why: String| ArtifactError::Record {
        path: path.to_owned(),
        why,
    };
    let mut lines = BTreeMap::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    for row in reader.records() {
        let row = row.map_err(|error| bad("RECORD", format!("not CSV: {error}")))?;
        if row.iter().all(str::is_empty) {
            continue;
        }
        let [path, hash, size] = [0, 1, 2].map(|i| row.get(i));
        let (Some(raw), Some(hash), Some(size), None) = (path, hash, size, row.get(3)) else {
            return Err(bad(
                row.get(0).unwrap_or("RECORD"),
                "a RECORD line must have exactly three fields".into(),
            ));
        };
        let path = checked_entry_path(raw)?;
        let sha256 = match hash.split_once('=') {
            None if hash.is_empty() => None,
            Some(("sha256", encoded)) => {
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(encoded.trim_end_matches('='))
                    .ok()
                    .filter(|raw| raw.len() == 32)
                    .ok_or_else(|| bad(&path, format!("`{hash}` is not a sha256 digest")))?;
                Some(hex::encode(raw))
            }
            _ => {
                return Err(bad(
                    &path,
                    format!("`{hash}`: only sha256 RECORD hashes are accepted"),
                ));
            }
        };
        let size = match size {
            "" => None,
            text => Some(
                text.parse::<u64>()
                    .map_err(|_| bad(&path, format!("size `{text}` is not a number")))?,
            ),
        };
        if lines
            .insert(path.clone(), RecordLine { sha256, size })
            .is_some()
        {
            return Err(bad(&path, "listed twice in RECORD".into()));
        }
    }
    Ok(lines)
}

/// Every archive file is in RECORD with a hash (but RECORD and its signatures), and every
/// RECORD line names an archive file (but hashless `.pyc` lines).
fn check_record_covers(
    files: &[String],
    record: &BTreeMap<String, RecordLine>,
    unhashed: &[String],
) -> Result<(), ArtifactError> {
    let mut in_archive: HashMap<&str, ()> = HashMap::new();
    for path in files {
        in_archive.insert(path, ());
        if unhashed.contains(path) {
            continue;
        }
        match record.get(path) {
            None => {
                return Err(ArtifactError::Record {
                    path: path.clone(),
                    why: "the wheel contains it but RECORD does not list it".into(),
                });
            }
            Some(RecordLine { sha256: None, .. }) => {
                return Err(ArtifactError::Record {
                    path: path.clone(),
                    why: "RECORD lists it without a hash".into(),
                });
            }
            Some(_) => {}
        }
    }
    for (path, line) in record {
        if in_archive.contains_key(path.as_str()) {
            continue;
        }
        if path.ends_with(".pyc") && line.sha256.is_none() {
            continue;
        }
        return Err(ArtifactError::Record {
            path: path.clone(),
            why: "RECORD lists it but the wheel does not contain it".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use sha2::Digest;
    use zip::write::SimpleFileOptions;

    use super::*;

    fn record_hash(bytes: &[u8]) -> String {
        format!(
            "sha256={}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(bytes))
        )
    }

    /// A wheel with `files` (path, bytes) plus dist-info METADATA/WHEEL/entry_points and a
    /// RECORD built by `record` from the honest lines.
    fn wheel(
        dir: &Path,
        files: &[(&str, &[u8])],
        record: impl FnOnce(Vec<String>) -> Vec<String>,
    ) -> std::path::PathBuf {
        let di = "demo-1.0.dist-info";
        let mut all: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(p, b)| ((*p).to_owned(), b.to_vec()))
            .collect();
        all.push((
            format!("{di}/METADATA"),
            b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n".to_vec(),
        ));
        all.push((
            format!("{di}/WHEEL"),
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n".to_vec(),
        ));
        all.push((
            format!("{di}/entry_points.txt"),
            b"[console_scripts]\ndemo = demo.main:run\n".to_vec(),
        ));
        let lines: Vec<String> = all
            .iter()
            .map(|(p, b)| format!("{p},{},{}", record_hash(b), b.len()))
            .chain([format!("{di}/RECORD,,")])
            .collect();
        let record_text = record(lines).join("\n") + "\n";
        all.push((format!("{di}/RECORD"), record_text.into_bytes()));
        let path = dir.join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(fs_err::File::create(&path).unwrap().into_file());
        for (name, bytes) in &all {
            zip.start_file(name.as_str(), SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    const DEMO: &[(&str, &[u8])] = &[
        ("demo/__init__.py", b""),
        ("demo/main.py", b"def run():\n    return 0\n"),
        ("demo-1.0.data/purelib/demo_extra.py", b"X = 1\n"),
        ("demo-1.0.data/scripts/demo-tool", b"#!python\n"),
    ];

    fn unpack(wheel: &Path) -> (tempfile::TempDir, Result<UnpackedWheel, ArtifactError>) {
        let site = tempfile::tempdir().unwrap();
        let result = unpack_wheel(wheel, site.path(), &Limits::default());
        (site, result)
    }

    #[test]
    fn unpacks_into_site_with_every_file_checked_against_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = wheel(dir.path(), DEMO, |lines| lines);
        let (site, result) = unpack(&path);
        let unpacked = result.unwrap();
        assert_eq!(unpacked.dist_info, "demo-1.0.dist-info");
        assert_eq!(unpacked.console_scripts[0].target, "demo.main:run");
        assert_eq!(
            unpacked.skipped_scripts,
            ["demo-1.0.data/scripts/demo-tool"]
        );
        let mut written: Vec<&str> = unpacked
            .unpacked
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        written.sort();
        assert_eq!(
            written,
            [
                "demo-1.0.dist-info/METADATA",
                "demo-1.0.dist-info/RECORD",
                "demo-1.0.dist-info/WHEEL",
                "demo-1.0.dist-info/entry_points.txt",
                "demo/__init__.py",
                "demo/main.py",
                "demo_extra.py",
            ]
        );
        assert_eq!(
            fs_err::read(site.path().join("demo_extra.py")).unwrap(),
            b"X = 1\n"
        );
        assert!(!site.path().join("demo-1.0.data").exists());
        let main = unpacked
            .unpacked
            .files
            .iter()
            .find(|f| f.path == "demo/main.py")
            .unwrap();
        assert_eq!(
            main.sha256,
            hex::encode(sha2::Sha256::digest(b"def run():\n    return 0\n"))
        );
        assert_eq!(
            unpacked.unpacked.digests,
            digest_reader(fs_err::File::open(&path).unwrap()).unwrap()
        );
        // A second wheel installing the same file is refused.
        let again = unpack_wheel(&path, site.path(), &Limits::default()).unwrap_err();
        assert!(
            matches!(again, ArtifactError::UnsafeEntry { .. }),
            "{again}"
        );
    }

    fn refused(record: impl FnOnce(Vec<String>) -> Vec<String>) -> ArtifactError {
        let dir = tempfile::tempdir().unwrap();
        let (_site, result) = unpack(&wheel(dir.path(), DEMO, record));
        result.unwrap_err()
    }

    #[test]
    fn a_file_missing_from_record_is_refused() {
        let error = refused(|lines| {
            lines
                .into_iter()
                .filter(|l| !l.starts_with("demo/main.py"))
                .collect()
        });
        assert!(
            matches!(&error, ArtifactError::Record { path, why } if path == "demo/main.py" && why.contains("does not list")),
            "{error}"
        );
    }

    #[test]
    fn a_record_line_for_a_missing_file_is_refused_but_hashless_pyc_lines_pass() {
        let error = refused(|mut lines| {
            lines.push(format!("demo/gone.py,{},3", record_hash(b"abc")));
            lines
        });
        assert!(
            matches!(&error, ArtifactError::Record { path, .. } if path == "demo/gone.py"),
            "{error}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = wheel(dir.path(), DEMO, |mut lines| {
            lines.push("demo/__pycache__/main.cpython-311.pyc,,".into());
            lines
        });
        unpack(&path).1.unwrap();
    }

    #[test]
    fn changed_bytes_sizes_and_hashless_lines_are_refused() {
        let error = refused(|lines| {
            lines
                .into_iter()
                .map(|l| {
                    if l.starts_with("demo/main.py") {
                        format!("demo/main.py,{},25", record_hash(b"evil"))
                    } else {
                        l
                    }
                })
                .collect()
        });
        assert!(
            matches!(&error, ArtifactError::Record { why, .. } if why.contains("hash to")),
            "{error}"
        );
        let main = b"def run():\n    return 0\n";
        let error = refused(|lines| {
            lines
                .into_iter()
                .map(|l| {
                    if l.starts_with("demo/main.py") {
                        format!("demo/main.py,{},{}", record_hash(main), main.len() + 1)
                    } else {
                        l
                    }
                })
                .collect()
        });
        assert!(
            matches!(&error, ArtifactError::Record { why, .. } if why.contains("bytes, RECORD says")),
            "{error}"
        );
        let error = refused(|lines| {
            lines
                .into_iter()
                .map(|l| {
                    if l.starts_with("demo/main.py") {
                        "demo/main.py,,".to_owned()
                    } else {
                        l
                    }
                })
                .collect()
        });
        assert!(
            matches!(&error, ArtifactError::Record { why, .. } if why.contains("without a hash")),
            "{error}"
        );
        let error = refused(|lines| {
            lines
                .into_iter()
                .map(|l| l.replace("sha256=", "md5="))
                .collect()
        });
        assert!(matches!(error, ArtifactError::Record { .. }), "{error}");
    }

    #[test]
    fn headers_data_and_foreign_data_dirs_are_refused() {
        for path in [
            "demo-1.0.data/data/share/x",
            "demo-1.0.data/headers/x.h",
            "other-2.0.data/purelib/x.py",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let files: Vec<(&str, &[u8])> = vec![("demo/__init__.py", b""), (path, b"x")];
            let (_site, result) = unpack(&wheel(dir.path(), &files, |l| l));
            let error = result.unwrap_err();
            assert!(
                matches!(&error, ArtifactError::WheelLayout { .. }),
                "{path}: {error}"
            );
        }
    }

    #[test]
    fn hostile_paths_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<(&str, &[u8])> = vec![("demo/__init__.py", b""), ("../escape.py", b"x")];
        let (site, result) = unpack(&wheel(dir.path(), &files, |l| l));
        assert!(matches!(result, Err(ArtifactError::UnsafeEntry { .. })));
        assert_eq!(fs_err::read_dir(site.path()).unwrap().count(), 0);
    }
}
