//! Landlock: which ABI this kernel has, what a plan's enforcement will be, and applying it.
//!
//! [`restrict`] restricts the calling thread (and everything it execs or spawns afterwards):
//! call it right before `exec`, after every write the caller itself needs (the audit record).
//! It sets `no_new_privs` (a setuid program cannot shed the rules), handles every filesystem
//! right the ABI knows, TCP connect and bind unless the plan allows all ports, and scopes
//! abstract unix sockets and signals to the sandbox.

use crate::plan::{Plan, Record, Refusal};
use crate::policy::{Mode, Ports};

/// The Landlock ABI found at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Support {
    /// 0 when the kernel has no Landlock (or it is disabled), and off Linux.
    pub abi: u8,
    /// The ABI came from the debug-build test hook (`MCPIN_TEST_LANDLOCK_ABI`), not the kernel.
    pub simulated: bool,
}

/// The kernel's Landlock ABI, probed at run time. The highest this mcpin handles is
/// [`crate::ENFORCE_MIN_ABI`]: a newer kernel reports that number.
///
/// Debug builds only: `MCPIN_TEST_LANDLOCK_ABI=N` reports `N` instead when it is lower (the
/// tests' way to simulate an old kernel). The code is not compiled into release builds, so no
/// environment an agent sets can lower a production mcpin's sandbox.
pub fn support() -> Support {
    let real = kernel_abi();
    #[cfg(debug_assertions)]
    if let Some(abi) = std::env::var("MCPIN_TEST_LANDLOCK_ABI")
        .ok()
        .and_then(|value| value.parse::<u8>().ok())
        .filter(|abi| *abi < real)
    {
        return Support {
            abi,
            simulated: true,
        };
    }
    Support {
        abi: real,
        simulated: false,
    }
}

/// How `plan` will be enforced with `support`, or why `enforce` refuses.
pub fn decide(plan: &Plan, support: Support) -> Result<Record, Refusal> {
    let wanted = crate::ENFORCE_MIN_ABI;
    let mut missing = Vec::new();
    if support.abi == 0 {
        missing.push(if cfg!(target_os = "linux") {
            "the kernel has no Landlock (not built in, or not enabled at boot): nothing is restricted".to_owned()
        } else {
            format!(
                "Landlock is Linux-only; on {} nothing is restricted",
                std::env::consts::OS
            )
        });
    } else {
        let restricts_tcp = plan.connect != Ports::All || plan.bind != Ports::All;
        if support.abi < 3 {
            missing.push("truncating readable files is not restricted (Landlock ABI 3)".to_owned());
        }
        if support.abi < 4 && restricts_tcp {
            missing.push("TCP connect and bind are not restricted (Landlock ABI 4)".to_owned());
        }
        if support.abi < 5 {
            missing.push("ioctl on devices is not restricted (Landlock ABI 5)".to_owned());
        }
        if support.abi < 6 {
            missing.push(
                "abstract unix sockets and signals are not scoped (Landlock ABI 6)".to_owned(),
            );
        }
    }
    let simulated = if support.simulated {
        " (simulated by MCPIN_TEST_LANDLOCK_ABI, a debug-build test hook)"
    } else {
        ""
    };
    if plan.mode == Mode::Enforce && support.abi < wanted {
        return Err(Refusal::new(
            "sandbox-unsupported",
            format!(
                "[sandbox] mode = \"enforce\" needs Landlock ABI {wanted} (Linux 6.12 or later); this system has ABI {}{simulated}: {}. Use mode = \"best-effort\" to launch with what the kernel enforces",
                support.abi,
                missing.join("; ")
            ),
        ));
    }
    Ok(Record {
        plan: plan.clone(),
        enforcement: if support.abi == 0 { "none" } else { "landlock" }.to_owned(),
        landlock_abi: Some(support.abi),
        warnings: missing
            .into_iter()
            .map(|why| format!("best-effort: {why}{simulated}"))
            .collect(),
    })
}

/// Why a plan could not be applied. The caller must not start the server.
#[derive(Debug, thiserror::Error)]
pub enum RestrictError {
    #[error("cannot open `{path}` for its sandbox rule: {source}")]
    Open {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("Landlock refused the rules: {0}")]
    Landlock(String),
    #[error("the kernel enforced the rules only partly, and the mode is enforce")]
    Partial,
    #[error("no_new_privs could not be set")]
    NoNewPrivs,
}

/// Applies `record`'s plan to the calling thread. Nothing is applied when the record says the
/// kernel has no Landlock (best-effort only: `decide` refuses that under enforce).
#[cfg(target_os = "linux")]
pub fn restrict(record: &Record) -> Result<(), RestrictError> {
    use landlock::{
        ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
        Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
    };

    let abi_number = record.landlock_abi.unwrap_or(0);
    if record.enforcement != "landlock" || abi_number == 0 {
        return Ok(());
    }
    let plan = &record.plan;
    let abi = ABI::from(i32::from(abi_number.min(crate::ENFORCE_MIN_ABI)));
    let landlock = |error: landlock::RulesetError| RestrictError::Landlock(error.to_string());
    let level = match plan.mode {
        Mode::Enforce => CompatLevel::HardRequirement,
        _ => CompatLevel::BestEffort,
    };
    let mut ruleset = Ruleset::default()
        .set_compatibility(level)
        .handle_access(AccessFs::from_all(abi))
        .map_err(landlock)?;
    let mut net = landlock::BitFlags::<AccessNet>::EMPTY;
    if plan.connect != Ports::All {
        net |= AccessNet::ConnectTcp;
    }
    if plan.bind != Ports::All {
        net |= AccessNet::BindTcp;
    }
    if abi_number >= 4 && !net.is_empty() {
        ruleset = ruleset.handle_access(net).map_err(landlock)?;
    }
    if abi_number >= 6 {
        ruleset = ruleset.scope(Scope::from_all(abi)).map_err(landlock)?;
    }
    let mut created = ruleset.create().map_err(landlock)?;
    let grants = plan
        .read
        .iter()
        .map(|g| (g, AccessFs::from_read(abi)))
        .chain(plan.write.iter().map(|g| (g, AccessFs::from_all(abi))));
    for (grant, access) in grants {
        let fd = PathFd::new(&grant.path).map_err(|error| RestrictError::Open {
            path: grant.path.clone(),
            source: std::io::Error::other(error),
        })?;
        let is_dir = fs_err::metadata(&grant.path).is_ok_and(|meta| meta.is_dir());
        // A rule on a file may only carry the rights a file can have.
        let access = if is_dir {
            access
        } else {
            access & AccessFs::from_file(abi)
        };
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(landlock)?;
    }
    if abi_number >= 4 {
        for (ports, access) in [
            (&plan.connect, AccessNet::ConnectTcp),
            (&plan.bind, AccessNet::BindTcp),
        ] {
            if let Ports::Tcp(list) = ports {
                for port in list {
                    created = created
                        .add_rule(NetPort::new(*port, access))
                        .map_err(landlock)?;
                }
            }
        }
    }
    let status = created.restrict_self().map_err(landlock)?;
    if !status.no_new_privs {
        return Err(RestrictError::NoNewPrivs);
    }
    if plan.mode == Mode::Enforce && status.ruleset != RulesetStatus::FullyEnforced {
        return Err(RestrictError::Partial);
    }
    Ok(())
}

/// Off Linux there is no Landlock: `decide` refuses `enforce`, and best-effort applies nothing.
#[cfg(not(target_os = "linux"))]
pub fn restrict(record: &Record) -> Result<(), RestrictError> {
    match record.plan.mode {
        Mode::Enforce => Err(RestrictError::Landlock("Landlock is Linux-only".to_owned())),
        _ => Ok(()),
    }
}

/// The highest ABI (up to [`crate::ENFORCE_MIN_ABI`]) whose rights the kernel accepts as a hard
/// requirement: one `landlock_create_ruleset` version query per step, no ruleset is applied.
#[cfg(target_os = "linux")]
fn kernel_abi() -> u8 {
    use landlock::{
        ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr, Scope,
    };
    let accepts = |abi: ABI, number: u8| {
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessFs::from_all(abi));
        if number >= 4 {
            ruleset = ruleset.and_then(|r| r.handle_access(AccessNet::from_all(abi)));
        }
        if number >= 6 {
            ruleset = ruleset.and_then(|r| r.scope(Scope::from_all(abi)));
        }
        ruleset.is_ok()
    };
    (1..=crate::ENFORCE_MIN_ABI)
        .rev()
        .find(|number| accepts(ABI::from(i32::from(*number)), *number))
        .unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
fn kernel_abi() -> u8 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Grant;

    fn plan(mode: Mode) -> Plan {
        Plan {
            mode,
            read: vec![Grant {
                path: "/usr".into(),
                from: "fs-read: /usr".to_owned(),
            }],
            write: Vec::new(),
            connect: Ports::None,
            bind: Ports::None,
            tmp: None,
            missing: Vec::new(),
        }
    }

    #[test]
    fn enforce_refuses_an_old_kernel_and_best_effort_warns() {
        for abi in [0, 3, 5] {
            let support = Support {
                abi,
                simulated: false,
            };
            let refusal = decide(&plan(Mode::Enforce), support).unwrap_err();
            assert_eq!(refusal.code, "sandbox-unsupported");
            assert!(refusal.message.contains(&format!("ABI {abi}")), "{refusal}");
            let record = decide(&plan(Mode::BestEffort), support).unwrap();
            assert!(!record.warnings.is_empty());
            assert_eq!(record.landlock_abi, Some(abi));
        }
        let none = decide(
            &plan(Mode::BestEffort),
            Support {
                abi: 0,
                simulated: true,
            },
        )
        .unwrap();
        assert_eq!(none.enforcement, "none");
        assert!(none.warnings[0].contains("test hook"));
        let full = decide(
            &plan(Mode::Enforce),
            Support {
                abi: 6,
                simulated: false,
            },
        )
        .unwrap();
        assert!(full.warnings.is_empty());
        assert_eq!(full.enforcement, "landlock");
    }
}
