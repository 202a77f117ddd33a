//! The progress bar on stderr while pages load.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use primo_connect::Page;

use super::args::{GlobalArgs, ProgressMode};

/// Pages and customers loaded so far, drawn on stderr when wanted.
pub struct Progress {
    bar: Option<ProgressBar>,
    customers: u64,
}

impl Progress {
    /// A bar per `--progress` and `--quiet`: drawn on a terminal (`auto`),
    /// always, or never.
    pub fn new(global: &GlobalArgs) -> Self {
        let wanted = !global.quiet
            && match global.progress {
                ProgressMode::Auto => std::io::stderr().is_terminal(),
                ProgressMode::Always => true,
                ProgressMode::Never => false,
            };
        let bar = wanted.then(|| {
            // A terminal-like target draws even when stderr is not a
            // terminal, which is what `always` asks for.
            let target = ProgressDrawTarget::term_like(Box::new(console::Term::stderr()));
            let bar = ProgressBar::with_draw_target(None, target);
            bar.set_style(
                ProgressStyle::with_template("{spinner} page {pos}/{len} · {msg} · {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message("0 customers");
            bar
        });
        Progress { bar, customers: 0 }
    }

    /// Records one page.
    pub fn page(&mut self, page: &Page) {
        let Some(bar) = &self.bar else { return };
        if page.number == 1 {
            self.customers = 0;
            bar.set_position(0);
            bar.set_length(page.total_pages.max(1));
        }
        self.customers += page.customers.len() as u64;
        bar.inc(1);
        bar.set_message(format!("{} customers", self.customers));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
