/// Bounds that keep reading a hostile archive cheap in time and memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most entries an archive may hold. Real MCP server packages hold hundreds.
    pub max_entries: u64,
    /// Most bytes an archive may expand to.
    pub max_expanded_bytes: u64,
    /// Largest expanded:compressed ratio tolerated once past `ratio_grace_bytes`.
    /// Source code compresses around 4-10:1; a gzip bomb reaches 1000:1.
    pub max_ratio: u64,
    /// Expanded bytes read before the ratio is enforced (tiny archives have noisy ratios).
    pub ratio_grace_bytes: u64,
    /// Largest metadata file (package.json, METADATA, manifest.json…) read into memory.
    pub max_metadata_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 50_000,
            max_expanded_bytes: 4 << 30,
            max_ratio: 200,
            ratio_grace_bytes: 8 << 20,
            max_metadata_bytes: 4 << 20,
        }
    }
}
