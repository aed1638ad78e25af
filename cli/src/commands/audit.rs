use anyhow::Context;
use mcpin_launcher::audit;
use mcpin_launcher::locate::BaseDirs;

use crate::args::AuditVerifyArgs;
use crate::exit::ExitStatus;
use crate::output;

pub fn verify(args: AuditVerifyArgs) -> anyhow::Result<ExitStatus> {
    let path = match args.file {
        Some(path) => path,
        None => BaseDirs::from_env()
            .audit_log()
            .context("no audit log given and neither XDG_STATE_HOME nor HOME is set")?,
    };
    let verified = audit::verify(&path)?;
    if args.json {
        output::report(&verified)?;
    } else {
        eprintln!(
            "audit log {}: {} records, chain intact (head {})",
            path.display(),
            verified.records,
            verified.head
        );
    }
    Ok(ExitStatus::Success)
}
