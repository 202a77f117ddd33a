//! What `primo` says about itself: `--help` of every command, shell
//! completions and the man page.
#![cfg(feature = "cli")]

use assert_cmd::Command;

/// `primo` with none of the caller's PRIMO_* variables (clap shows their
/// values in the help) and a fixed width for wrapping.
fn primo() -> Command {
    let mut command = Command::cargo_bin("primo").expect("the primo binary is built");
    for name in [
        "PRIMO_ENV",
        "PRIMO_PROFILE",
        "PRIMO_TOKEN",
        "PRIMO_CLIENT_ID",
        "PRIMO_CLIENT_SECRET",
        "PRIMO_CONFIG",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command
        .env("PRIMO_CONFIG", "/nonexistent/primo-test/config.toml")
        .env("COLUMNS", "100");
    command
}

/// The stdout of a run that must exit 0 with nothing on stderr.
fn stdout_of(args: &[&str]) -> String {
    let output = primo().args(args).output().expect("primo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    assert_eq!(stderr, "", "{args:?}");
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// The long help of `primo <args> --help`.
fn help(args: &[&str]) -> String {
    let mut args = args.to_vec();
    args.push("--help");
    stdout_of(&args)
}

// `primo --help`.
#[test]
fn help_primo() {
    insta::assert_snapshot!(help(&[]));
}

// `primo customers --help`.
#[test]
fn help_customers() {
    insta::assert_snapshot!(help(&["customers"]));
}

// `primo customers list --help`.
#[test]
fn help_customers_list() {
    insta::assert_snapshot!(help(&["customers", "list"]));
}

// `primo customers find --help`.
#[test]
fn help_customers_find() {
    insta::assert_snapshot!(help(&["customers", "find"]));
}

// `primo customers show --help`.
#[test]
fn help_customers_show() {
    insta::assert_snapshot!(help(&["customers", "show"]));
}

// `primo target --help`.
#[test]
fn help_target() {
    insta::assert_snapshot!(help(&["target"]));
}

// `primo target quote --help`.
#[test]
fn help_target_quote() {
    insta::assert_snapshot!(help(&["target", "quote"]));
}

// `primo target booking --help`.
#[test]
fn help_target_booking() {
    insta::assert_snapshot!(help(&["target", "booking"]));
}

// `primo sandbox --help`.
#[test]
fn help_sandbox() {
    insta::assert_snapshot!(help(&["sandbox"]));
}

// `primo completions --help`.
#[test]
fn help_completions() {
    insta::assert_snapshot!(help(&["completions"]));
}

// `primo man --help`.
#[test]
fn help_man() {
    insta::assert_snapshot!(help(&["man"]));
}

// The long help of `primo` and of `primo target` lists every exit code.
#[test]
fn help_lists_exit_codes() {
    for args in [&[][..], &["target"][..]] {
        let text = help(args);
        assert!(text.contains("Exit codes:"), "{args:?}: {text}");
        for code in [
            "  0  success",
            "  1  ",
            "  2  usage",
            "  3  refused",
            "  4  customer or branch not found",
        ] {
            assert!(text.contains(code), "{args:?} lacks {code:?}: {text}");
        }
    }
}

// `-h` is the short help: no exit codes, but the commands.
#[test]
fn short_help_is_short() {
    let text = stdout_of(&["-h"]);
    assert!(
        text.contains("customers") && text.contains("target"),
        "{text}"
    );
    assert!(!text.contains("Exit codes:"), "{text}");
    assert!(text.len() < help(&[]).len());
}

// Completion scripts for bash, zsh and fish name the command and its subcommands.
#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        assert!(!script.is_empty(), "{shell}");
        assert!(script.contains("primo"), "{shell}");
        for command in ["customers", "target", "quote", "booking"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
}

// An unknown shell is a usage error.
#[test]
fn completions_for_an_unknown_shell_exit_2() {
    let output = primo()
        .args(["completions", "tcsh"])
        .output()
        .expect("primo runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}

// The man page is roff for section 1 and documents the subcommands.
#[test]
fn man_page() {
    let page = stdout_of(&["man"]);
    // clap_mangen opens with a groff-or-not string definition, then `.TH`.
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq \\(aq\n"),
        "{}",
        &page[..80.min(page.len())]
    );
    assert!(
        page.lines().any(|line| line.starts_with(".TH primo 1")),
        "{page}"
    );
    assert!(page.contains("customers"), "{page}");
    assert!(page.contains("target"), "{page}");
}
