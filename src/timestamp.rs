//! Timestamps as the provider's ASP.NET backend writes them.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// .NET's `DateTime.MinValue`, 0001-01-01T00:00:00.
const DOTNET_MIN_VALUE: NaiveDateTime = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(date) => match date.and_hms_opt(0, 0, 0) {
        Some(value) => value,
        None => NaiveDateTime::MIN,
    },
    None => NaiveDateTime::MIN,
};

/// A `date-time` value from the API, kept exactly as sent.
///
/// The backend varies: 1 to 9 fractional digits, `Z`, `+hh:mm`, or no
/// offset at all (taken as UTC). Its minimum value `0001-01-01T00:00:00`
/// stands for "unknown" and has no [`instant`](Self::instant). The text is
/// kept so that a customer written back out is byte-for-byte what the server
/// said.
///
/// ```
/// use primo_connect::ApiTimestamp;
///
/// let t = ApiTimestamp::parse("2026-05-04T15:59:10.3266667+00:00").unwrap();
/// assert_eq!(t.instant().unwrap().to_rfc3339(), "2026-05-04T15:59:10.326666700+00:00");
/// assert_eq!(ApiTimestamp::parse("0001-01-01T00:00:00").unwrap().instant(), None);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApiTimestamp {
    text: String,
    instant: Option<DateTime<Utc>>,
    lenient: bool,
}

/// The reason a text is not an [`ApiTimestamp`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidTimestamp {
    text: String,
}

impl fmt::Display for InvalidTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a date-time (expected e.g. 2026-05-04T15:59:10.3266667+00:00)",
            self.text
        )
    }
}

impl std::error::Error for InvalidTimestamp {}

impl ApiTimestamp {
    /// Reads a timestamp in any of the forms the backend is known to send.
    ///
    /// # Errors
    ///
    /// [`InvalidTimestamp`] when the text is not an RFC 3339 date-time with
    /// an optional offset and at most 9 fractional digits.
    pub fn parse(text: &str) -> Result<Self, InvalidTimestamp> {
        let invalid = || InvalidTimestamp {
            text: text.to_owned(),
        };
        if !Self::fraction_is_valid(text) {
            return Err(invalid());
        }

        let (instant, lenient) = match DateTime::parse_from_rfc3339(text) {
            Ok(with_offset) => (with_offset.with_timezone(&Utc), false),
            Err(_) => {
                let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                    .map_err(|_| invalid())?;
                (naive.and_utc(), true)
            }
        };

        // .NET's DateTime.MinValue is how the backend says "not recorded".
        let unknown = instant == DOTNET_MIN_VALUE.and_utc();
        Ok(Self {
            text: text.to_owned(),
            instant: (!unknown).then_some(instant),
            lenient,
        })
    }

    /// The instant, or `None` when the backend sent its "unknown" value.
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        self.instant
    }

    /// The text exactly as the server sent it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the value uses a form outside strict RFC 3339 (no offset), so
    /// a caller can log the fallback.
    pub fn is_lenient(&self) -> bool {
        self.lenient
    }

    /// Checks that the seconds carry between 1 and 9 fractional digits, or
    /// none, as every form the backend is known to send does.
    fn fraction_is_valid(text: &str) -> bool {
        let Some(after_t) = text.split_once('T').map(|(_, time)| time) else {
            return false;
        };
        let Some((_, fraction)) = after_t.split_once('.') else {
            return true;
        };
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        (1..=9).contains(&digits)
    }
}

impl fmt::Debug for ApiTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for ApiTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for ApiTimestamp {
    type Err = InvalidTimestamp;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for ApiTimestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for ApiTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_form_the_backend_sends() {
        for (text, rfc3339) in [
            (
                "2026-05-04T15:59:10.3266667+00:00",
                "2026-05-04T15:59:10.326666700+00:00",
            ),
            ("2026-05-04T15:59:10.3Z", "2026-05-04T15:59:10.300+00:00"),
            (
                "2026-05-04T15:59:10.123456789-05:00",
                "2026-05-04T20:59:10.123456789+00:00",
            ),
            ("2026-05-04T15:59:10", "2026-05-04T15:59:10+00:00"),
            (
                "2026-05-04T15:59:10.1234567",
                "2026-05-04T15:59:10.123456700+00:00",
            ),
        ] {
            let t = ApiTimestamp::parse(text).unwrap();
            assert_eq!(t.instant().unwrap().to_rfc3339(), rfc3339, "{text}");
            assert_eq!(t.as_str(), text);
        }
    }

    #[test]
    fn dotnet_minimum_is_unknown() {
        for text in [
            "0001-01-01T00:00:00",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00.0000000+00:00",
        ] {
            assert_eq!(ApiTimestamp::parse(text).unwrap().instant(), None, "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_date_time() {
        for text in [
            "",
            "yesterday",
            "2026-05-04",
            "2026-05-04T15:59:10.",
            "2026-05-04T15:59:10.1234567890Z",
        ] {
            assert!(ApiTimestamp::parse(text).is_err(), "{text}");
        }
    }
}
