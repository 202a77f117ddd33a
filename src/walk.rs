//! The walk over every page of `GET /v1/customers`, complete and consistent.
//!
//! The walk is generic over where pages come from ([`PageSource`]), so it
//! runs the same over HTTP and in memory. It asks for page 1, learns
//! `totalPages`, then asks for pages 2 to `totalPages` (never "a short page
//! means the end"), several at a time, and hands them on in page order.
//!
//! Two kinds of finding stop a walk:
//! - *the data moved* while it ran (totals changed, a customer seen twice, a
//!   page short before the last, fewer customers than announced). A walk
//!   that collects everything starts over from page 1 once; a walk that
//!   streams cannot take back what it handed on, so it fails.
//! - *the server misbehaves* (echoes another page number, sends more
//!   customers than asked for): it fails at once.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};

use crate::error::{Error, Step};
use crate::types::{Customer, CustomerPage};

/// One page as the walk sees it: the page asked for, the totals the server
/// reported with it, and its customers.
#[derive(Clone, Debug)]
pub struct Page {
    /// The 1-based page number asked for.
    pub number: u64,
    /// `currentPage` as the server echoed it.
    pub echoed_page: i64,
    /// `totalResults` as reported with this page.
    pub total_results: u64,
    /// `totalPages` as reported with this page.
    pub total_pages: u64,
    /// The customers, in server order (`results: null` is none).
    pub customers: Vec<Customer>,
}

impl Page {
    /// Reads the API's page, checking the totals are not negative.
    ///
    /// # Errors
    ///
    /// [`Error::ServerMisbehaved`] for a negative total.
    pub fn from_api(number: u64, page: CustomerPage) -> Result<Self, Error> {
        let step = Step::Page(number);
        let non_negative = |name: &str, value: i64| {
            u64::try_from(value).map_err(|_| Error::ServerMisbehaved {
                step,
                what: format!("{name} is {value}"),
            })
        };
        let customers = page.results.unwrap_or_default();
        let lenient = customers
            .iter()
            .filter(|c| c.created.as_ref().is_some_and(|t| t.is_lenient()))
            .count();
        if lenient > 0 {
            tracing::warn!(
                page = number,
                customers = lenient,
                "timestamps without an offset, read as UTC"
            );
        }
        Ok(Page {
            number,
            echoed_page: page.current_page,
            total_results: non_negative("totalResults", page.total_results)?,
            total_pages: non_negative("totalPages", page.total_pages)?,
            customers,
        })
    }
}

/// Where a walk gets its pages from: the HTTP client, or memory in tests.
pub trait PageSource: Send + Sync {
    /// Fetches one 1-based page of `per_page` customers.
    ///
    /// # Errors
    ///
    /// Whatever stops the page from arriving whole; the walk passes it on.
    fn fetch_page(
        &self,
        number: u64,
        per_page: NonZeroU32,
    ) -> impl Future<Output = Result<Page, Error>> + Send;
}

/// How a walk asks for pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkOptions {
    /// Customers asked for per page. Default 100; a server that caps it
    /// lower is followed.
    pub page_size: NonZeroU32,
    /// Pages in flight at once after page 1. Default 8; 1 walks one page at
    /// a time.
    pub concurrency: NonZeroU32,
    /// A limit on the whole walk. Default none.
    pub deadline: Option<Duration>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            page_size: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
            concurrency: NonZeroU32::new(8).unwrap_or(NonZeroU32::MIN),
            deadline: None,
        }
    }
}

/// A walk over every page of one source.
#[derive(Debug)]
pub struct PageWalk<'a, S> {
    source: &'a S,
    options: WalkOptions,
}

type PageStream<'a> = Pin<Box<dyn Stream<Item = Result<Page, Error>> + Send + 'a>>;

impl<'a, S: PageSource> PageWalk<'a, S> {
    /// A walk over `source`.
    pub fn new(source: &'a S, options: WalkOptions) -> Self {
        PageWalk { source, options }
    }

    /// Every page once, in page order, each checked against the ones before.
    ///
    /// The stream ends after the last page, or after the first error; a
    /// stream that ended without an error is the whole directory.
    pub fn pages(&self) -> impl Stream<Item = Result<Page, Error>> + Send + use<'a, S> {
        let source = self.source;
        let per_page = self.options.page_size;
        let window = self.options.concurrency.get() as usize;

        let first = stream::once(source.fetch_page(1, per_page));
        let all: PageStream<'a> = Box::pin(first.flat_map(move |first| -> PageStream<'a> {
            match first {
                Ok(page) if page.total_pages > 1 => {
                    let rest = stream::iter(2..=page.total_pages)
                        .map(move |number| source.fetch_page(number, per_page))
                        .buffered(window);
                    Box::pin(stream::once(async { Ok(page) }).chain(rest))
                }
                other => Box::pin(stream::once(async { other })),
            }
        }));

        let checked = Checked {
            pages: all,
            check: Consistency::new(per_page),
            done: false,
        }
        .into_stream();
        with_deadline(checked, self.options.deadline)
    }

    /// Every customer once, in server order, as pages arrive.
    ///
    /// Nothing is kept but the `customerId`s the consistency checks need. If
    /// the data moves mid-walk the stream ends with [`Error::DataMoved`]:
    /// what it already yielded cannot be taken back.
    pub fn customers(&self) -> impl Stream<Item = Result<Customer, Error>> + Send + use<'a, S> {
        self.pages()
            .flat_map(|page| -> Pin<Box<dyn Stream<Item = _> + Send>> {
                match page {
                    Ok(page) => Box::pin(stream::iter(page.customers.into_iter().map(Ok))),
                    Err(error) => Box::pin(stream::once(async { Err(error) })),
                }
            })
    }

    /// Every customer, collected; when the data moved during the walk,
    /// starts over from page 1 once.
    ///
    /// # Errors
    ///
    /// The first error of the walk; [`Error::DataMoved`] with `restarted`
    /// set when the data moved on the second walk too.
    pub async fn collect(&self) -> Result<Vec<Customer>, Error> {
        self.collect_with(|_| {}).await
    }

    /// As [`Self::collect`], calling `on_page` with each page as it arrives
    /// (to show progress, say); after a restart it sees page 1 again.
    ///
    /// # Errors
    ///
    /// As [`Self::collect`].
    pub async fn collect_with(
        &self,
        mut on_page: impl FnMut(&Page),
    ) -> Result<Vec<Customer>, Error> {
        match self.collect_once(&mut on_page).await {
            Err(Error::DataMoved { what, .. }) => {
                tracing::warn!(%what, "the customer list changed during the walk; starting over from page 1");
                self.collect_once(&mut on_page)
                    .await
                    .map_err(|error| match error {
                        Error::DataMoved { what, .. } => Error::DataMoved {
                            what,
                            restarted: true,
                        },
                        other => other,
                    })
            }
            other => other,
        }
    }

    async fn collect_once(&self, on_page: &mut impl FnMut(&Page)) -> Result<Vec<Customer>, Error> {
        let mut customers = Vec::new();
        let mut pages = std::pin::pin!(self.pages());
        while let Some(page) = pages.next().await {
            let page = page?;
            on_page(&page);
            customers.extend(page.customers);
        }
        Ok(customers)
    }
}

/// Ends `pages` with [`Error::DeadlineExceeded`] once `deadline` passes.
fn with_deadline<'a>(
    pages: impl Stream<Item = Result<Page, Error>> + Send + 'a,
    deadline: Option<Duration>,
) -> impl Stream<Item = Result<Page, Error>> + Send + 'a {
    let expires = deadline.map(|d| (d, tokio::time::Instant::now() + d));
    let pages = Box::pin(pages);
    stream::unfold((pages, false), move |(mut pages, finished)| async move {
        if finished {
            return None;
        }
        let next = match expires {
            Some((limit, at)) => match tokio::time::timeout_at(at, pages.next()).await {
                Ok(next) => next,
                Err(_) => Some(Err(Error::DeadlineExceeded { deadline: limit })),
            },
            None => pages.next().await,
        };
        let finished = matches!(next, Some(Err(Error::DeadlineExceeded { .. })));
        next.map(|item| (item, (pages, finished)))
    })
}

/// Pages passed through the consistency checks, ending after an error.
struct Checked<'a> {
    pages: PageStream<'a>,
    check: Consistency,
    done: bool,
}

impl<'a> Checked<'a> {
    fn into_stream(self) -> impl Stream<Item = Result<Page, Error>> + Send + 'a {
        stream::unfold(self, |mut state| async move {
            if state.done {
                return None;
            }
            let item = match state.pages.next().await {
                None => {
                    // Every page arrived: a last look at the count.
                    state.done = true;
                    match state.check.finish() {
                        Ok(()) => return None,
                        Err(error) => error,
                    }
                }
                Some(Ok(page)) => match state.check.accept(&page) {
                    Ok(()) => return Some((Ok(page), state)),
                    Err(error) => error,
                },
                Some(Err(error)) => error,
            };
            state.done = true;
            Some((Err(item), state))
        })
    }
}

/// The most `customerId`s a walk makes room for before it has seen them.
const MAX_RESERVED_IDS: u64 = 4_000_000;

/// What the pages so far have said, to check each new one against.
#[derive(Debug)]
pub(crate) struct Consistency {
    asked: u64,
    first: Option<FirstPage>,
    seen: HashSet<i64>,
}

#[derive(Clone, Copy, Debug)]
struct FirstPage {
    total_results: u64,
    total_pages: u64,
    size: u64,
}

impl Consistency {
    pub(crate) fn new(per_page: NonZeroU32) -> Self {
        Consistency {
            asked: u64::from(per_page.get()),
            first: None,
            seen: HashSet::new(),
        }
    }

    /// Checks one page, in page order.
    pub(crate) fn accept(&mut self, page: &Page) -> Result<(), Error> {
        let step = Step::Page(page.number);
        let size = page.customers.len() as u64;

        if u64::try_from(page.echoed_page).ok() != Some(page.number) {
            return Err(Error::ServerMisbehaved {
                step,
                what: format!(
                    "it answered currentPage {} when asked for page {}",
                    page.echoed_page, page.number
                ),
            });
        }
        if size > self.asked {
            return Err(Error::ServerMisbehaved {
                step,
                what: format!(
                    "it sent {size} customers when asked for at most {}",
                    self.asked
                ),
            });
        }

        let first = match self.first {
            Some(first) => first,
            None => {
                // Room for every id up front: growing the set would hold the
                // old and the new table at once. The count comes from the
                // server, so only up to a bound.
                self.seen
                    .reserve(page.total_results.min(MAX_RESERVED_IDS) as usize);
                *self.first.insert(FirstPage {
                    total_results: page.total_results,
                    total_pages: page.total_pages,
                    size,
                })
            }
        };
        if page.number == 1 && size < self.asked && page.total_pages > 1 {
            tracing::warn!(
                asked = self.asked,
                got = size,
                "the server caps the page size; following the totalPages it reports"
            );
        }

        let moved = |what: String| {
            Err(Error::DataMoved {
                what,
                restarted: false,
            })
        };
        if page.total_results != first.total_results {
            return moved(format!(
                "totalResults went from {} to {} on page {}",
                first.total_results, page.total_results, page.number
            ));
        }
        if page.total_pages != first.total_pages {
            return moved(format!(
                "totalPages went from {} to {} on page {}",
                first.total_pages, page.total_pages, page.number
            ));
        }
        if page.number < first.total_pages && size < first.size {
            return moved(format!(
                "page {} holds {size} customers where page 1 held {}, and it is not the last page",
                page.number, first.size
            ));
        }
        for customer in &page.customers {
            if !self.seen.insert(customer.customer_id) {
                return moved(format!(
                    "customerId {} appeared again on page {}",
                    customer.customer_id, page.number
                ));
            }
        }
        Ok(())
    }

    /// Checks the walk found as many customers as the server announced.
    pub(crate) fn finish(&self) -> Result<(), Error> {
        let expected = self.first.map_or(0, |f| f.total_results);
        let found = self.seen.len() as u64;
        if found != expected {
            return Err(Error::DataMoved {
                what: format!(
                    "the walk found {found} customers where the server reported totalResults {expected}"
                ),
                restarted: false,
            });
        }
        Ok(())
    }
}
