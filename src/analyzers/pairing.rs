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
use std::collections::VecDeque;

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

/// The exchanges in flight on one connection, in request order.
#[derive(Debug)]
pub struct PairingQueue<K, T> {
    waiting: VecDeque<Pending<K, T>>,
    /// Longest queue before the oldest exchange is given up (bounds memory).
    limit: usize,
}

impl<K: PartialEq, T> PairingQueue<K, T> {
    pub fn new(limit: usize) -> Self {
        PairingQueue {
            waiting: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// A new request that started at `first_ns`. When the queue is full, the oldest exchange
    /// is returned (released from the watermark) for the caller to report as unanswered.
    pub fn push_request(
        &mut self,
        key: K,
        first_ns: i64,
        item: T,
        marks: &mut Watermark,
    ) -> Option<Pending<K, T>> {
        let evicted = if self.waiting.len() >= self.limit {
            self.waiting.pop_front().map(|p| release(p, marks))
        } else {
            None
        };
        marks.add(first_ns);
        self.waiting.push_back(Pending {
            key,
            times: Exchange {
                request_first_ns: Some(first_ns),
                ..Exchange::default()
            },
            item,
            answered: false,
            done: false,
            mark: Some(first_ns),
        });
        evicted
    }

    /// The oldest request without a response yet (pipelined protocols answer in order).
    pub fn oldest_unanswered(&mut self) -> Option<&mut Pending<K, T>> {
        self.waiting.iter_mut().find(|p| !p.answered)
    }

    /// The request with this key (multiplexed protocols).
    pub fn by_key(&mut self, key: &K) -> Option<&mut Pending<K, T>> {
        self.waiting.iter_mut().find(|p| &p.key == key)
    }

    /// Removes and returns the exchange with this key, released from the watermark.
    pub fn remove(&mut self, key: &K, marks: &mut Watermark) -> Option<Pending<K, T>> {
        let at = self.waiting.iter().position(|p| &p.key == key)?;
        self.waiting.remove(at).map(|p| release(p, marks))
    }

    /// The oldest exchange, if it is `done`, released from the watermark: call until `None`
    /// to emit finished exchanges in request order.
    pub fn pop_front_done(&mut self, marks: &mut Watermark) -> Option<Pending<K, T>> {
        if self.waiting.front().is_some_and(|p| p.done) {
            self.waiting.pop_front().map(|p| release(p, marks))
        } else {
            None
        }
    }

    /// Every exchange still held (connection end), oldest first, released from the watermark.
    pub fn drain<'q>(
        &'q mut self,
        marks: &'q mut Watermark,
    ) -> impl Iterator<Item = Pending<K, T>> + 'q {
        self.waiting.drain(..).map(move |p| release(p, marks))
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
        let mut q: PairingQueue<(), &str> = PairingQueue::new(10);
        assert!(q.push_request((), 10, "a", &mut marks).is_none());
        q.push_request((), 20, "b", &mut marks);
        assert_eq!(marks.min(), Some(10));
        let first = q.oldest_unanswered().unwrap();
        first.answered = true;
        first.times.response_first_ns = Some(30);
        assert_eq!(q.oldest_unanswered().unwrap().item, "b");
        // "b" done first cannot overtake "a".
        q.oldest_unanswered().unwrap().done = true;
        assert!(q.pop_front_done(&mut marks).is_none());
        q.by_key(&()).unwrap().done = true;
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
        assert_eq!(q.drain(&mut marks).count(), 1);
        assert_eq!(marks.min(), None);
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
