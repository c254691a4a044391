//! HTTP/1.x as a plug-in of the analyzer seam: claims any connection whose bytes may be HTTP
//! (the connection state machine decides from the content and rejects the rest).

use super::HttpConn;
use crate::analyzers::http2::H2Conn;
use crate::analyzers::seam::{
    Chunk, Claim, ConnInfo, Dir, Probe, Registration, SegmentView, Shared, TcpAnalyzer, Verdict,
};
use crate::analyzers::Ctx;

pub const REGISTRATION: Registration = Registration {
    name: "http",
    // On any port: the first bytes of each direction decide (see `detect`), which may need
    // more bytes than the first packet, so the probe only says "possibly".
    probe: |_: &Probe<'_>| Claim::Maybe,
    new: |info: &ConnInfo| Box::new(HttpConn::new(info.connection_id, info.senders)),
    observer: false,
};

impl TcpAnalyzer for HttpConn {
    fn protocol(&self) -> &'static str {
        "http"
    }

    /// Heads waiting for their end (and bytes after an `Upgrade: h2c` 101).
    fn held_bytes(&self) -> usize {
        let upgrade = self.h2c.as_ref().map_or(0, |u| u.rest.capacity());
        self.dirs.iter().map(|d| d.buf.capacity()).sum::<usize>() + upgrade
    }

    fn on_segment(&mut self, segment: &SegmentView<'_>, _ctx: &mut Ctx<'_>) {
        // What the sender had acknowledged when it sent a message (tells a gap the capture
        // missed from bytes still to be retransmitted).
        if segment.ack && !segment.rst {
            self.set_peer_ack(segment.dir, segment.acked_offset);
        }
    }

    fn on_data(
        &mut self,
        dir: Dir,
        chunk: &Chunk<'_>,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) -> Verdict {
        // HTTP dates a message by its own bytes, not by the stream before it.
        HttpConn::on_data(self, dir, chunk.bytes, chunk.first_ns, chunk.last_ns, ctx);
        if let Some(upgrade) = self.take_h2c() {
            // Everything HTTP/1.x still holds goes out; HTTP/2 takes the connection, starting
            // with the bytes after the 101 in this chunk.
            HttpConn::flush(self, ctx);
            let (connection_id, senders, client) = self.connection();
            let mut next = H2Conn::after_upgrade(
                connection_id,
                senders,
                client.unwrap_or(1 - dir),
                upgrade.request,
                upgrade.request_done,
                ctx,
            );
            if !upgrade.rest.is_empty() {
                let rest = Chunk {
                    bytes: &upgrade.rest,
                    ..*chunk
                };
                let _ = next.on_data(dir, &rest, ctx, shared);
            }
            return Verdict::HandOff(Box::new(next));
        }
        if self.is_http() {
            Verdict::Continue
        } else {
            Verdict::Reject
        }
    }

    fn on_gap(&mut self, dir: Dir, len: u64, ctx: &mut Ctx<'_>) {
        HttpConn::on_gap(self, dir, len, ctx);
    }

    fn on_end(&mut self, dir: Dir, clean: bool, ctx: &mut Ctx<'_>) {
        HttpConn::on_end(self, dir, clean, ctx);
    }

    fn flush(&mut self, ctx: &mut Ctx<'_>) {
        HttpConn::flush(self, ctx);
    }

    fn settled(&self) -> bool {
        // A request or status line decided the roles: HTTP never rejects after that.
        self.client_dir.is_some()
    }
}
