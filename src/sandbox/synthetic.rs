//! Generated customers, each computed from its index alone.
//!
//! A synthetic organization stores nothing but its size: customer `i` is
//! written straight into the response body when a page asks for it. The
//! values follow the provider's rules, so a client walking a million of them
//! sees a clean organization:
//!
//! - `customerId` is `400000 + i`, `customerCode` is `C` and the 1-based
//!   position on at least seven digits (`C0000001`), `customerNumber` is
//!   `100000000000 + i`, and branch `b` has `customerBsn`
//!   `500000000000 + 3 * i + b`; all distinct, most beyond 32 bits;
//! - one to three branches, exactly one with `isHeadquarter: true`, and not
//!   always the first one;
//! - every 37th customer (positions 37, 74, ...) is inactive;
//! - `created` carries seven fractional digits and a `+00:00` offset, and
//!   `createdBy` is `user-N@example.com`;
//! - `organizationName` is `PRIMO` and `organizationNumber` is 1.

use std::fmt::Write as _;

/// US state codes used to name the branches that are not the headquarter.
const STATES: [&str; 12] = [
    "KS", "FL", "TX", "OH", "GA", "IL", "NV", "OR", "MI", "AZ", "NC", "WA",
];

/// Seconds from 1970 to 2018-01-01T00:00:00Z, the first `created` value.
const FIRST_CREATED: u64 = 1_514_764_800;

/// Seconds between the `created` values of two neighbouring customers.
const CREATED_STEP: u64 = 251;

/// How many customers pass before the `created` values start over.
const CREATED_CYCLE: u64 = 1_000_000;

/// Rough size of one customer's JSON, for reserving buffer space.
pub(crate) const APPROX_CUSTOMER_LEN: usize = 560;

/// Appends the JSON of customer `index` (0-based) to `out`, without spaces.
pub(crate) fn write_customer(index: u64, out: &mut String) {
    let ordinal = index.wrapping_add(1);
    let mix = splitmix64(index);
    let name = CustomerName(ordinal);

    // Writing into a String cannot fail, so the fmt::Results are dropped.
    let _ = write!(
        out,
        "{{\"customerId\":{},\"organizationName\":\"PRIMO\",\
         \"customerName\":\"{name}\",\"customerCode\":\"C{ordinal:07}\",\
         \"customerNumber\":{},\"isActive\":{},\"created\":\"",
        400_000u64.wrapping_add(index),
        100_000_000_000u64.wrapping_add(index),
        !ordinal.is_multiple_of(37),
    );
    write_created(index, mix, out);
    let _ = write!(
        out,
        "\",\"createdBy\":\"user-{}@example.com\",\"organizationNumber\":1,\
         \"bsns\":[",
        index % 25 + 1,
    );

    // One to three branches, the headquarter at a position the mix picks.
    let branches = 1 + mix % 3;
    let headquarter = (mix >> 8) % branches;
    for branch in 0..branches {
        if branch > 0 {
            out.push(',');
        }
        let bsn = 500_000_000_000u64
            .wrapping_add(index.wrapping_mul(3))
            .wrapping_add(branch);
        let _ = write!(out, "{{\"customerBsn\":{bsn},\"bsnName\":\"{name}");
        if branch == headquarter {
            out.push_str(" HQ\",\"isHeadquarter\":true}");
        } else {
            let state = STATES[((mix >> 16).wrapping_add(branch) % 12) as usize];
            let _ = write!(out, " - {state}\",\"isHeadquarter\":false}}");
        }
    }
    out.push_str("]}");
}

/// The display name of the customer at a 1-based position.
struct CustomerName(u64);

impl std::fmt::Display for CustomerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Synthetic Customer {}", self.0)
    }
}

/// Writes an ASP.NET style UTC timestamp with seven fractional digits.
fn write_created(index: u64, mix: u64, out: &mut String) {
    let seconds = FIRST_CREATED + (index % CREATED_CYCLE) * CREATED_STEP;
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let of_day = seconds % 86_400;
    let ticks = (mix >> 24) % 10_000_000;
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ticks:07}+00:00",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
    );
}

/// Converts days since 1970-01-01 to a proleptic Gregorian date.
///
/// This is Howard Hinnant's `civil_from_days`, restricted to dates after
/// 1970 so that unsigned arithmetic suffices.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A cheap, well-mixed hash of the index (SplitMix64's finalizer).
fn splitmix64(index: u64) -> u64 {
    let mut z = index.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(index: u64) -> serde_json::Value {
        let mut text = String::new();
        write_customer(index, &mut text);
        serde_json::from_str(&text).expect("synthetic customer is JSON")
    }

    // Dates convert like chrono does, across leap years and month ends.
    #[test]
    fn civil_dates_match_chrono() {
        for days in (17_000..22_000).step_by(7) {
            let date = chrono::DateTime::from_timestamp(days as i64 * 86_400, 0)
                .expect("in range")
                .date_naive();
            let expected = date.format("%Y-%m-%d").to_string();
            let (y, m, d) = civil_from_days(days);
            assert_eq!(format!("{y:04}-{m:02}-{d:02}"), expected);
        }
    }

    // The first customer has the documented shape and values.
    #[test]
    fn first_customer_values() {
        let first = customer(0);
        assert_eq!(first["customerId"], 400_000);
        assert_eq!(first["customerCode"], "C0000001");
        assert_eq!(first["customerName"], "Synthetic Customer 1");
        assert_eq!(first["customerNumber"], 100_000_000_000u64);
        assert_eq!(first["isActive"], true);
        assert_eq!(first["organizationName"], "PRIMO");
        assert_eq!(first["organizationNumber"], 1);
        assert_eq!(first["createdBy"], "user-1@example.com");
        let created = first["created"].as_str().expect("created is a string");
        assert!(created.starts_with("2018-01-01T00:00:00."), "{created}");
        assert_eq!(created.len(), "2026-05-04T15:59:10.3266667+00:00".len());
        assert!(created.ends_with("+00:00"));
    }

    // Every customer has one to three branches and exactly one headquarter.
    #[test]
    fn one_headquarter_per_customer() {
        let mut seen_counts = [false; 4];
        let mut hq_not_first = false;
        for index in 0..500 {
            let value = customer(index);
            let bsns = value["bsns"].as_array().expect("bsns is an array");
            assert!((1..=3).contains(&bsns.len()));
            seen_counts[bsns.len()] = true;
            let hqs: Vec<usize> = bsns
                .iter()
                .enumerate()
                .filter(|(_, b)| b["isHeadquarter"] == true)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(hqs.len(), 1, "customer {index}");
            hq_not_first |= hqs[0] != 0;
        }
        assert_eq!(seen_counts, [false, true, true, true]);
        assert!(hq_not_first);
    }

    // Every 37th customer is inactive, and only those.
    #[test]
    fn every_37th_inactive() {
        let inactive: Vec<u64> = (0..200)
            .filter(|&i| customer(i)["isActive"] == false)
            .collect();
        assert_eq!(inactive, vec![36, 73, 110, 147, 184]);
    }
}
