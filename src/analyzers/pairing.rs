//! Request/response pairing with the four capture times, shared by the analyzers.
//!
//! An [`Exchange`] is one request and its response: `request_first_ns`, `request_last_ns`,
//! `response_first_ns`, `response_last_ns` (see the timing rules in the parent module) and the
//! derived latencies, all saturating so that extreme timestamps never overflow.
//!
//! [`PairingQueue`] holds the exchanges of one connection in request order. Pipelined
//! protocols (HTTP/1.x, most request/response protocols over TCP) answer the oldest request
//! first: [`PairingQueue::oldest_unanswered`]. Multiplexed ones (DNS ids, HTTP/2 stream ids)
//! find the request by key: [`PairingQueue::by_key`]. While an exchange waits, its start time
//! is held in the pass's low watermark, so the pipeline can release finished rows in time
//! order; [`PairingQueue::pop_front_done`] and [`PairingQueue::drain`] release it.

use super::Watermark;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::hash::Hash;

/// The four capture times of one exchange (nanoseconds since the epoch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exchange {
    pub request_first_ns: Option<i64>,
    pub request_last_ns: Option<i64>,
    pub response_first_ns: Option<i64>,
    pub response_last_ns: Option<i64>,
}

/// `a - b`, saturating at the ends of `i64`.
pub fn elapsed(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    Some(a?.saturating_sub(b?))
}

impl Exchange {
    /// Time to first byte: response first − request first.
    pub fn ttfb_ns(&self) -> Option<i64> {
        elapsed(self.response_first_ns, self.request_first_ns)
    }
    /// Total: response last − request first.
    pub fn total_ns(&self) -> Option<i64> {
        elapsed(self.response_last_ns, self.request_first_ns)
    }
    /// Server time: response first − request last.
    pub fn server_ns(&self) -> Option<i64> {
        elapsed(self.response_first_ns, self.request_last_ns)
    }
    /// Response last − request last (tshark's `http.time`).
    pub fn tshark_ns(&self) -> Option<i64> {
        elapsed(self.response_last_ns, self.request_last_ns)
    }
    /// When the exchange started: its request, or for an orphan response its response.
    pub fn start_ns(&self) -> Option<i64> {
        self.request_first_ns.or(self.response_first_ns)
    }
}

/// One waiting exchange and what the analyzer keeps with it.
#[derive(Debug)]
pub struct Pending<K, T> {
    pub key: K,
    pub times: Exchange,
    /// Protocol-specific state and fields.
    pub item: T,
    pub answered: bool,
    pub done: bool,
    /// Start time held in the watermark.
    mark: Option<i64>,
}

/// The exchanges in flight on one connection (or one multiplexed session), in request order.
///
/// Lookup by key is O(1) (an index by key; removed exchanges leave a hole that is skipped at
/// the front), so multiplexed protocols with many requests in flight stay linear. Keys are
/// unique among waiting exchanges: a protocol whose keys can repeat (a retransmitted DNS
/// query) looks the key up first.
#[derive(Debug)]
pub struct PairingQueue<K, T> {
    /// Request order; `None` where an exchange was removed out of order.
    waiting: VecDeque<Option<Pending<K, T>>>,
    /// Sequence number of `waiting[0]`.
    front_seq: u64,
    index: FxHashMap<K, u64>,
    live: usize,
    /// Most exchanges in flight before the oldest is given up (bounds memory).
    limit: usize,
}

impl<K: Eq + Hash + Clone, T> PairingQueue<K, T> {
    pub fn new(limit: usize) -> Self {
        PairingQueue {
            waiting: VecDeque::new(),
            front_seq: 0,
            index: FxHashMap::default(),
            live: 0,
            limit: limit.max(1),
        }
    }

    /// Exchanges waiting.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// A new request with `key` that started at `first_ns`. When the queue is full, the
    /// oldest exchange is returned (released from the watermark) for the caller to report as
    /// unanswered.
    pub fn push_request(
        &mut self,
        key: K,
        first_ns: i64,
        item: T,
        marks: &mut Watermark,
    ) -> Option<Pending<K, T>> {
        let evicted = if self.live >= self.limit {
            self.pop_front_if(marks, |_| true)
        } else {
            None
        };
        marks.add(first_ns);
        let seq = self.front_seq + self.waiting.len() as u64;
        self.index.insert(key.clone(), seq);
        self.waiting.push_back(Some(Pending {
            key,
            times: Exchange {
                request_first_ns: Some(first_ns),
                ..Exchange::default()
            },
            item,
            answered: false,
            done: false,
            mark: Some(first_ns),
        }));
        self.live += 1;
        evicted
    }

    /// The oldest request without a response yet (pipelined protocols answer in order).
    /// Scans from the front, so it costs the number of answered exchanges still waiting for
    /// their end, at most the limit.
    pub fn oldest_unanswered(&mut self) -> Option<&mut Pending<K, T>> {
        self.waiting.iter_mut().flatten().find(|p| !p.answered)
    }

    /// The waiting exchange with this key (multiplexed protocols).
    pub fn by_key(&mut self, key: &K) -> Option<&mut Pending<K, T>> {
        let seq = *self.index.get(key)?;
        let at = usize::try_from(seq - self.front_seq).ok()?;
        self.waiting.get_mut(at)?.as_mut()
    }

    /// Every waiting exchange, in request order (a connection-wide event such as an HTTP/2
    /// GOAWAY touches them all).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Pending<K, T>> {
        self.waiting.iter_mut().flatten()
    }

    /// Removes and returns the exchange with this key, released from the watermark.
    pub fn remove(&mut self, key: &K, marks: &mut Watermark) -> Option<Pending<K, T>> {
        let seq = self.index.remove(key)?;
        let at = usize::try_from(seq - self.front_seq).ok()?;
        let p = self.waiting.get_mut(at)?.take()?;
        self.live -= 1;
        self.trim_front();
        Some(release(p, marks))
    }

    /// The oldest exchange, if it is `done`, released from the watermark: call until `None`
    /// to emit finished exchanges in request order.
    pub fn pop_front_done(&mut self, marks: &mut Watermark) -> Option<Pending<K, T>> {
        self.pop_front_if(marks, |p| p.done)
    }

    /// Every exchange still held (connection end), oldest first, released from the watermark.
    pub fn drain(&mut self, marks: &mut Watermark) -> Vec<Pending<K, T>> {
        self.index.clear();
        self.live = 0;
        self.front_seq += self.waiting.len() as u64;
        self.waiting
            .drain(..)
            .flatten()
            .map(|p| release(p, marks))
            .collect()
    }

    fn pop_front_if(
        &mut self,
        marks: &mut Watermark,
        wanted: impl Fn(&Pending<K, T>) -> bool,
    ) -> Option<Pending<K, T>> {
        self.trim_front();
        if !self.waiting.front()?.as_ref().is_some_and(wanted) {
            return None;
        }
        let seq = self.front_seq;
        let p = self.waiting.pop_front()??;
        self.front_seq += 1;
        self.live -= 1;
        // A later exchange may have reused the key (callers should not, but then the index
        // points at the later one and must stay).
        if self.index.get(&p.key) == Some(&seq) {
            self.index.remove(&p.key);
        }
        self.trim_front();
        Some(release(p, marks))
    }

    /// Drops the holes left at the front by exchanges removed out of order.
    fn trim_front(&mut self) {
        while matches!(self.waiting.front(), Some(None)) {
            self.waiting.pop_front();
            self.front_seq += 1;
        }
    }
}

fn release<K, T>(mut p: Pending<K, T>, marks: &mut Watermark) -> Pending<K, T> {
    if let Some(t) = p.mark.take() {
        marks.remove(t);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_pairs_in_order_and_holds_the_watermark() {
        let mut marks = Watermark::default();
        // Pipelined protocols key by request number.
        let mut q: PairingQueue<u32, &str> = PairingQueue::new(10);
        assert!(q.push_request(1, 10, "a", &mut marks).is_none());
        q.push_request(2, 20, "b", &mut marks);
        assert_eq!(marks.min(), Some(10));
        let first = q.oldest_unanswered().unwrap();
        first.answered = true;
        first.times.response_first_ns = Some(30);
        assert_eq!(q.oldest_unanswered().unwrap().item, "b");
        // "b" done first cannot overtake "a".
        q.oldest_unanswered().unwrap().done = true;
        assert!(q.pop_front_done(&mut marks).is_none());
        q.by_key(&1).unwrap().done = true;
        let a = q.pop_front_done(&mut marks).unwrap();
        assert_eq!((a.item, a.times.ttfb_ns()), ("a", Some(20)));
        assert_eq!(marks.min(), Some(20));
        assert_eq!(q.pop_front_done(&mut marks).unwrap().item, "b");
        assert_eq!(marks.min(), None);
    }

    #[test]
    fn keyed_lookup_and_limit() {
        let mut marks = Watermark::default();
        let mut q: PairingQueue<u32, ()> = PairingQueue::new(2);
        q.push_request(7, 1, (), &mut marks);
        q.push_request(9, 2, (), &mut marks);
        let evicted = q.push_request(11, 3, (), &mut marks).unwrap();
        assert_eq!(evicted.key, 7);
        assert!(q.by_key(&9).is_some());
        assert_eq!(q.remove(&9, &mut marks).unwrap().key, 9);
        assert_eq!(marks.min(), Some(3));
        assert_eq!(q.drain(&mut marks).len(), 1);
        assert_eq!(marks.min(), None);
    }

    #[test]
    fn out_of_order_removal_leaves_no_trace() {
        let mut marks = Watermark::default();
        let mut q: PairingQueue<u64, ()> = PairingQueue::new(100_000);
        for id in 0..50_000u64 {
            q.push_request(id, id as i64, (), &mut marks);
        }
        // Answer every other one out of order, then the rest from the back: O(1) each.
        for id in (0..50_000u64).rev().step_by(2) {
            assert_eq!(q.remove(&id, &mut marks).unwrap().key, id);
        }
        assert_eq!(q.len(), 25_000);
        assert_eq!(marks.min(), Some(0));
        assert_eq!(q.by_key(&2).unwrap().key, 2);
        assert!(q.by_key(&3).is_none());
        for id in (0..50_000u64).step_by(2) {
            q.remove(&id, &mut marks).unwrap();
        }
        assert!(q.is_empty());
        assert_eq!(marks.min(), None);
        // Sequence numbers keep working after the holes.
        q.push_request(7, 70, (), &mut marks);
        assert_eq!(q.by_key(&7).unwrap().times.request_first_ns, Some(70));
        assert_eq!(q.drain(&mut marks).len(), 1);
        assert!(q.by_key(&7).is_none());
    }

    #[test]
    fn latencies_saturate() {
        let e = Exchange {
            request_first_ns: Some(i64::MIN),
            request_last_ns: Some(i64::MIN),
            response_first_ns: Some(i64::MAX),
            response_last_ns: Some(i64::MAX),
        };
        assert_eq!(e.ttfb_ns(), Some(i64::MAX));
        assert_eq!(e.server_ns(), Some(i64::MAX));
    }
}
