use anyhow::Context;
use mcpin_sbom::LockOptions;

use super::write_atomic;
use crate::args::LockArgs;
use crate::exit::ExitStatus;
use crate::output;

pub fn run(args: LockArgs) -> anyhow::Result<ExitStatus> {
    let options = LockOptions {
        registry: args.registry,
        python_version: args.python_version,
        platform: args.platform,
        allow_sdist: args.allow_sdist,
        isolated: false,
    };
    let lock = mcpin_sbom::lock(&args.artifact, &options)
        .with_context(|| format!("locking `{}`", args.artifact.display()))?;
    let mut bytes = lock.to_canonical_json();
    bytes.push(b'\n');
    match &args.out {
        Some(out) => {
            write_atomic(out, &bytes)?;
            eprintln!(
                "locked {}@{}: {} dependencies, {}\nwrote {}",
                lock.root.name,
                lock.root.version,
                lock.package_count(),
                lock.digest(),
                out.display()
            );
        }
        None => output::bytes(&bytes)?,
    }
    Ok(ExitStatus::Success)
}
