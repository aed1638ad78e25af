use std::path::PathBuf;

/// Why an artifact could not be identified. Every variant names what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("`{0}` has no usable file name")]
    FileName(PathBuf),
    #[error(
        "`{0}` is neither a gzip tarball (npm package, sdist) nor a zip archive (wheel, MCPB bundle)"
    )]
    UnknownFormat(String),
    #[error("corrupt or truncated archive: {0}")]
    Corrupt(String),
    #[error("archive entry `{path}` is unsafe: {why}")]
    UnsafeEntry { path: String, why: &'static str },
    #[error("archive has more than {limit} entries")]
    TooManyEntries { limit: u64 },
    #[error(
        "archive expands more than {limit}:1 (read {compressed} compressed bytes, {expanded} expanded): refusing a decompression bomb"
    )]
    CompressionRatio {
        limit: u64,
        compressed: u64,
        expanded: u64,
    },
    #[error("archive expands to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("`{path}` is larger than the {limit}-byte limit for metadata files")]
    MetadataTooLarge { path: String, limit: u64 },
    #[error("not a recognised package: {0}")]
    NotAPackage(String),
    #[error("wheel RECORD check failed for `{path}`: {why}")]
    Record { path: String, why: String },
    #[error("wheel layout not installable at `{path}`: {why}")]
    WheelLayout { path: String, why: String },
    #[error("invalid metadata in `{path}`: {why}")]
    Metadata { path: String, why: String },
}

impl From<zip::result::ZipError> for ArtifactError {
    fn from(error: zip::result::ZipError) -> Self {
        match error {
            zip::result::ZipError::Io(io) => ArtifactError::Io(io),
            other => ArtifactError::Corrupt(other.to_string()),
        }
    }
}
