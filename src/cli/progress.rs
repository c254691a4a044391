//! Progress bars on stderr (the CLI owns them; the library only reports positions), shown only when stderr is a terminal (never in CI logs or pipes).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

/// A byte-based bar for reading `path`, or `None` when stderr is not a terminal. Positions
/// are bytes of the capture stream; a compressed file (or stdin) has no known total, so it
/// gets a counter instead of a bar.
pub fn bar_for(path: &Path) -> Option<Bar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let len = std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let len = len.filter(|_| !is_compressed(path));
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let template = if len.is_some() {
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{spinner} {msg} {bytes} read (decompressed) {bytes_per_sec}"
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    Some(Bar(bar))
}

/// gzip or zstd by magic, as the reader decides (the extension may lie).
fn is_compressed(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    read.is_ok() && (magic[..2] == [0x1f, 0x8b] || magic == [0x28, 0xb5, 0x2f, 0xfd])
}

/// A bar the pass moves forward.
pub struct Bar(ProgressBar);

impl Bar {
    /// Removes the bar from the terminal.
    pub fn finish(self) {
        self.0.finish_and_clear();
    }
}

/// The pass reports bytes read; the bar shows them.
impl tracetail::pipeline::Progress for Bar {
    fn advance(&mut self, position: u64) {
        self.0.set_position(position);
    }
}
