//! `pkgward explain PKG PATH|CAPABILITY`: the full decision for one item —
//! the canonical form, the guarded location, the rules that select the
//! package, and the rule that decided, with its file, line and chain.
//!
//! CAPABILITY is `user:NAME`, `group:NAME`, `service:UNIT[:USER]`,
//! `setuid:PATH`, `file-capabilities:PATH=CAP[,CAP…]` or `scripts:MODE`;
//! anything starting with `/` is a path.

use super::policy::{read_package, PolicySource};
use crate::render::Hint;
use anyhow::Context as _;
use pkgward_policy::{Request, ScriptMode, Subject};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package file (`.deb` or `.rpm`).
    pub package: PathBuf,
    /// A path (`/etc/cron.d/x`) or a capability (`user:redis`, `group:adm`,
    /// `service:redis-server.service:redis`, `setuid:/usr/bin/x`,
    /// `file-capabilities:/usr/bin/ping=cap_net_raw`, `scripts:sandboxed`).
    pub item: String,
    #[command(flatten)]
    pub source: PolicySource,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_item(item: &str) -> anyhow::Result<Request<'_>> {
    if item.starts_with('/') {
        return Ok(Request::Place { path: item });
    }
    let hint = || {
        Hint("write a path (`/etc/cron.d/x`) or `user:NAME`, `group:NAME`, `service:UNIT[:USER]`, `setuid:PATH`, `file-capabilities:PATH=CAP[,CAP…]`, `scripts:none|sandboxed|unconfined`".to_owned())
    };
    let (kind, rest) = item
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("cannot read item `{item}`"))
        .with_context(hint)?;
    Ok(match kind {
        "user" => Request::User {
            name: rest,
            uid_zero: false,
        },
        "group" => Request::Group { name: rest },
        "setuid" => Request::Setuid { path: rest },
        "file-capabilities" => {
            let (path, names) = rest
                .rsplit_once('=')
                .ok_or_else(|| anyhow::anyhow!("file capabilities item `{item}` has no `=`"))
                .with_context(hint)?;
            let mut capabilities = 0u64;
            for name in names.split(',') {
                let number = pkgward_package::file_capabilities::capability_number(name)
                    .ok_or_else(|| anyhow::anyhow!("unknown capability `{name}` in `{item}`"))
                    .with_context(|| {
                        Hint("name capabilities as libcap does: `cap_net_raw`, `cap_net_bind_service` (capabilities(7))".to_owned())
                    })?;
                capabilities |= 1 << number;
            }
            Request::FileCapabilities { path, capabilities }
        }
        "service" => {
            let (unit, user) = match rest.split_once(':') {
                Some((unit, user)) => (unit, Some(user)),
                None => (rest, None),
            };
            Request::Service {
                unit,
                runs_as: user,
            }
        }
        "scripts" => Request::Scripts {
            mode: ScriptMode::parse(rest)
                .ok_or_else(|| anyhow::anyhow!("unknown script mode `{rest}`"))
                .with_context(hint)?,
        },
        other => {
            return Err(anyhow::anyhow!("unknown capability kind `{other}`")).with_context(hint)
        }
    })
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let request = parse_item(&args.item)?;
    let compiled = args.source.compile()?;
    let (package, _) = read_package(&args.package)?;
    let subject = Subject {
        repo: &args.source.repo,
        name: &package.name,
        version: &package.version,
    };
    let rules = compiled.for_subject(&subject, &[])?;
    let decision = rules.decide(&request);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&decision)?);
        return Ok(if decision.is_allowed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    println!(
        "package:   {} {} (repo `{}`)",
        package.name, package.version, args.source.repo
    );
    println!("item:      {request}");
    if let Some(path) = &decision.canonical_path {
        println!("canonical: {path}");
    }
    match &decision.guarded {
        Some(guarded) => println!(
            "guarded:   `{}` ({}): {}",
            guarded.id, guarded.class, guarded.reason
        ),
        None if decision.canonical_path.is_some() => println!("guarded:   no"),
        None => {}
    }
    let selecting: Vec<String> = compiled
        .policy()
        .grants
        .iter()
        .filter(|grant| grant.repo == args.source.repo)
        .filter(|grant| {
            pkgward_policy::pattern::NameGlob::parse(&grant.selector.package.value)
                .is_ok_and(|g| g.is_match(&package.name))
                && grant
                    .selector
                    .version
                    .as_ref()
                    .is_none_or(|v| v.value.accepts(&package.version))
        })
        .map(|grant| {
            format!(
                "`{}` at {}",
                grant.selector.package.value, grant.selector.package.origin
            )
        })
        .collect();
    if selecting.is_empty() {
        println!(
            "grants:    none select this package in repo `{}`",
            args.source.repo
        );
    } else {
        println!("grants:    {}", selecting.join(", "));
    }
    let verdict = match decision.verdict {
        pkgward_policy::Verdict::Allow => "allowed",
        pkgward_policy::Verdict::Deny => "denied",
        pkgward_policy::Verdict::Forbid => "forbidden",
    };
    println!("verdict:   {verdict}");
    println!("layer:     {:?}", decision.because.layer);
    println!("rule at:   {}", decision.because.location());
    println!("rule:      {}", decision.because.rule);
    for link in &decision.because.chain {
        println!("via:       {link}");
    }
    if let Some(hint) = &decision.hint {
        println!("hint:      {hint}");
    }
    Ok(if decision.is_allowed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
