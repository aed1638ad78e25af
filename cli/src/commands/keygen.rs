use anyhow::Context;
use mcpin_verifier::SecretKey;

use super::passphrase_from_env;
use crate::args::KeygenArgs;
use crate::exit::ExitStatus;
use crate::output;

pub fn run(args: KeygenArgs) -> anyhow::Result<ExitStatus> {
    let passphrase = passphrase_from_env(args.passphrase_env.as_deref())?;
    let key = SecretKey::generate();
    key.write_pair(&args.out, passphrase.as_deref())
        .with_context(|| format!("writing key pair `{}`.{{key,pub}}", args.out.display()))?;
    eprintln!(
        "wrote {0}.key (private, 0600{1}) and {0}.pub",
        args.out.display(),
        if passphrase.is_some() {
            ", encrypted"
        } else {
            ""
        }
    );
    output::text(&format!("{}\n", key.id()))?;
    Ok(ExitStatus::Success)
}
