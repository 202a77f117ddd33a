//! Every customer of one environment, looked up and resolved into the
//! identifiers a quote or a booking takes.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rules::{self, RuleProblem};
use crate::types::{Customer, CustomerBsn};
use crate::{Environment, Error};

/// Every customer of one environment, with the environment and the time it
/// was fetched, and each customer's rule problems.
///
/// It serializes (serde) so that a service can keep it between quotes; the
/// rule problems are computed again when it is read back, never trusted
/// from the file.
///
/// ```
/// use primo_connect::{BranchChoice, CustomerDirectory, Environment};
/// use primo_connect::types::Customer;
///
/// let customers: Vec<Customer> = serde_json::from_str(r#"[{
///     "customerId": 1, "customerName": "Acme", "customerCode": "C1",
///     "customerNumber": 122235102432, "isActive": true,
///     "bsns": [{"customerBsn": 123710321872, "bsnName": "Acme HQ", "isHeadquarter": true}]
/// }]"#).unwrap();
/// let directory = CustomerDirectory::new(Environment::Development, customers);
///
/// let quote = directory.quote_target("C1", &BranchChoice::Headquarter).unwrap();
/// assert_eq!(serde_json::to_string(&quote).unwrap(), r#"{"customerBsn":123710321872}"#);
/// let booking = directory.booking_target("Acme", &BranchChoice::Headquarter).unwrap();
/// assert_eq!(
///     serde_json::to_string(&booking).unwrap(),
///     r#"{"customerNumber":122235102432,"customerBsn":123710321872}"#,
/// );
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "StoredDirectory", into = "StoredDirectory")]
pub struct CustomerDirectory {
    environment: Environment,
    fetched_at: DateTime<Utc>,
    customers: Vec<Customer>,
    problems: Vec<Vec<RuleProblem>>,
}

/// What a directory keeps on disk: the rule problems are derived.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredDirectory {
    environment: Environment,
    fetched_at: DateTime<Utc>,
    customers: Vec<Customer>,
}

impl From<StoredDirectory> for CustomerDirectory {
    fn from(stored: StoredDirectory) -> Self {
        CustomerDirectory::with_fetched_at(stored.environment, stored.customers, stored.fetched_at)
    }
}

impl From<CustomerDirectory> for StoredDirectory {
    fn from(directory: CustomerDirectory) -> Self {
        StoredDirectory {
            environment: directory.environment,
            fetched_at: directory.fetched_at,
            customers: directory.customers,
        }
    }
}

/// Which branch of a customer to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BranchChoice {
    /// The branch with `isHeadquarter: true`; refused unless the customer
    /// has exactly one.
    Headquarter,
    /// The branch with this `customerBsn`.
    Bsn(i64),
    /// The branch with this exact `bsnName` (a case-insensitive match is
    /// tried when no exact one exists).
    Name(String),
}

impl FromStr for BranchChoice {
    type Err = std::convert::Infallible;

    /// A number is a `customerBsn`, anything else a `bsnName`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text.trim().parse::<i64>() {
            Ok(bsn) => BranchChoice::Bsn(bsn),
            Err(_) => BranchChoice::Name(text.to_owned()),
        })
    }
}

impl fmt::Display for BranchChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BranchChoice::Headquarter => f.write_str("the headquarter"),
            BranchChoice::Bsn(bsn) => write!(f, "customerBsn {bsn}"),
            BranchChoice::Name(name) => write!(f, "{name:?}"),
        }
    }
}

/// How strictly [`CustomerDirectory::quote_target_with`] and
/// [`CustomerDirectory::booking_target_with`] treat a customer that breaks
/// a rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Refuse any customer that breaks a rule. The default.
    #[default]
    Strict,
    /// Allow an explicitly named branch of a customer whose branch or
    /// headquarter rule is broken. Never covers an identifier shared with
    /// another customer, an inactive customer, or "the headquarter".
    Lenient,
}

/// The identifier a quote takes: `{"customerBsn": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuoteTarget {
    /// The branch's `customerBsn`.
    #[serde(rename = "customerBsn")]
    pub customer_bsn: i64,
    #[serde(skip)]
    environment: Environment,
}

/// The identifiers a booking takes: `{"customerNumber": …, "customerBsn": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BookingTarget {
    /// The customer's `customerNumber`.
    #[serde(rename = "customerNumber")]
    pub customer_number: i64,
    /// The branch's `customerBsn`.
    #[serde(rename = "customerBsn")]
    pub customer_bsn: i64,
    #[serde(skip)]
    environment: Environment,
}

macro_rules! target_environment {
    ($target:ty) => {
        impl $target {
            /// The environment these identifiers belong to.
            pub fn environment(&self) -> &Environment {
                &self.environment
            }

            /// Returns the target if it belongs to `environment`.
            ///
            /// # Errors
            ///
            /// [`Error::WrongEnvironment`] when it came from another one:
            /// identifiers never carry over between environments.
            pub fn for_environment(&self, environment: &Environment) -> Result<&Self, Error> {
                if &self.environment == environment {
                    Ok(self)
                } else {
                    Err(Error::WrongEnvironment {
                        target: self.environment.to_string(),
                        requested: environment.to_string(),
                    })
                }
            }
        }
    };
}
target_environment!(QuoteTarget);
target_environment!(BookingTarget);

/// A customer and the branch chosen for a request.
#[derive(Clone, Copy, Debug)]
pub struct Resolved<'a> {
    /// The customer.
    pub customer: &'a Customer,
    /// The chosen branch.
    pub branch: &'a CustomerBsn,
}

impl CustomerDirectory {
    /// A directory of `customers`, fetched now from `environment`.
    pub fn new(environment: Environment, customers: Vec<Customer>) -> Self {
        Self::with_fetched_at(environment, customers, Utc::now())
    }

    /// A directory of `customers` fetched from `environment` at `fetched_at`.
    pub fn with_fetched_at(
        environment: Environment,
        customers: Vec<Customer>,
        fetched_at: DateTime<Utc>,
    ) -> Self {
        let problems = rules::check(&customers);
        CustomerDirectory {
            environment,
            fetched_at,
            customers,
            problems,
        }
    }

    /// The environment the customers belong to.
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// When the customers were fetched.
    pub fn fetched_at(&self) -> DateTime<Utc> {
        self.fetched_at
    }

    /// How long ago the customers were fetched (zero if the clock went
    /// back).
    pub fn age(&self) -> Duration {
        (Utc::now() - self.fetched_at).to_std().unwrap_or_default()
    }

    /// Every customer, in server order.
    pub fn customers(&self) -> &[Customer] {
        &self.customers
    }

    /// Every customer with its rule problems, in server order.
    pub fn entries(&self) -> impl Iterator<Item = (&Customer, &[RuleProblem])> {
        self.customers
            .iter()
            .zip(self.problems.iter().map(Vec::as_slice))
    }

    /// The rule problems of `customer`, which must come from this directory.
    pub fn problems_of(&self, customer: &Customer) -> &[RuleProblem] {
        self.position(customer)
            .map_or(&[], |i| self.problems[i].as_slice())
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    /// Whether there are no customers.
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }

    fn position(&self, customer: &Customer) -> Option<usize> {
        self.customers
            .iter()
            .position(|c| std::ptr::eq(c, customer))
    }

    /// Finds one customer by `customerCode`, `customerNumber` or exact
    /// `customerName`, tried in that order; the first rule that matches
    /// anything decides.
    ///
    /// Codes match ignoring ASCII case. A query of digits matches a
    /// `customerNumber`. Names match exactly first, then ignoring case.
    ///
    /// # Errors
    ///
    /// [`Error::CustomerNotFound`], or [`Error::Ambiguous`] listing every
    /// match when one rule matches several customers.
    pub fn customer(&self, query: &str) -> Result<&Customer, Error> {
        let query_trimmed = query.trim();
        let number = query_trimmed.parse::<i64>().ok();
        let rules: [&dyn Fn(&Customer) -> bool; 4] = [
            &|c| c.customer_code.eq_ignore_ascii_case(query_trimmed),
            &|c| Some(c.customer_number) == number,
            &|c| c.customer_name == query,
            &|c| c.customer_name.to_lowercase() == query_trimmed.to_lowercase(),
        ];
        for rule in rules {
            let found: Vec<&Customer> = self.customers.iter().filter(|c| rule(c)).collect();
            match found.as_slice() {
                [] => continue,
                [one] => return Ok(one),
                several => {
                    return Err(Error::Ambiguous {
                        query: query.to_owned(),
                        candidates: several.iter().map(|c| describe(c)).collect(),
                    });
                }
            }
        }
        Err(Error::CustomerNotFound {
            query: query.to_owned(),
            environment: self.environment.to_string(),
        })
    }

    /// Customers whose name or code contains `text`, ignoring case, in
    /// server order.
    pub fn search(&self, text: &str) -> Vec<&Customer> {
        let needle = text.to_lowercase();
        self.customers
            .iter()
            .filter(|c| {
                c.customer_name.to_lowercase().contains(&needle)
                    || c.customer_code.to_lowercase().contains(&needle)
            })
            .collect()
    }

    /// Resolves a customer and branch for a request under `policy`.
    ///
    /// # Errors
    ///
    /// Not found or ambiguous ([`Error::CustomerNotFound`],
    /// [`Error::BranchNotFound`], [`Error::Ambiguous`]); refused
    /// ([`Error::InactiveCustomer`], [`Error::RuleBroken`]).
    pub fn resolve(
        &self,
        customer: &str,
        branch: &BranchChoice,
        policy: Policy,
    ) -> Result<Resolved<'_>, Error> {
        let found = self.customer(customer)?;
        if !found.is_active {
            return Err(Error::InactiveCustomer {
                customer: describe(found),
            });
        }

        let problems = self.problems_of(found);
        let refuse = |advice: &'static str| Error::RuleBroken {
            customer: describe(found),
            problems: problems.to_vec(),
            advice,
        };
        if problems.iter().any(RuleProblem::is_shared_identifier) {
            return Err(refuse(
                "an identifier shared with another customer cannot be trusted; ask PRIMO to correct the data",
            ));
        }

        let branches = found.bsns.as_deref().unwrap_or_default();
        let chosen = match branch {
            BranchChoice::Headquarter => {
                if !problems.is_empty() {
                    return Err(refuse(
                        "name the branch explicitly with the lenient policy, or ask PRIMO to correct the data",
                    ));
                }
                branches.iter().find(|b| b.is_headquarter)
            }
            BranchChoice::Bsn(bsn) => branches.iter().find(|b| b.customer_bsn == *bsn),
            BranchChoice::Name(name) => find_branch_by_name(found, branches, name)?,
        };
        let Some(chosen) = chosen else {
            return Err(Error::BranchNotFound {
                customer: describe(found),
                query: branch.to_string(),
            });
        };
        if !problems.is_empty() && policy == Policy::Strict {
            return Err(refuse(
                "use the lenient policy to accept an explicitly named branch",
            ));
        }
        Ok(Resolved {
            customer: found,
            branch: chosen,
        })
    }

    /// The `customerBsn` for a quote, strictly: see [`Self::resolve`].
    ///
    /// # Errors
    ///
    /// As [`Self::resolve`].
    pub fn quote_target(
        &self,
        customer: &str,
        branch: &BranchChoice,
    ) -> Result<QuoteTarget, Error> {
        self.quote_target_with(customer, branch, Policy::Strict)
    }

    /// The `customerBsn` for a quote, under `policy`.
    ///
    /// # Errors
    ///
    /// As [`Self::resolve`].
    pub fn quote_target_with(
        &self,
        customer: &str,
        branch: &BranchChoice,
        policy: Policy,
    ) -> Result<QuoteTarget, Error> {
        let resolved = self.resolve(customer, branch, policy)?;
        Ok(QuoteTarget {
            customer_bsn: resolved.branch.customer_bsn,
            environment: self.environment.clone(),
        })
    }

    /// The `customerNumber` and `customerBsn` for a booking, strictly: see
    /// [`Self::resolve`].
    ///
    /// # Errors
    ///
    /// As [`Self::resolve`].
    pub fn booking_target(
        &self,
        customer: &str,
        branch: &BranchChoice,
    ) -> Result<BookingTarget, Error> {
        self.booking_target_with(customer, branch, Policy::Strict)
    }

    /// The `customerNumber` and `customerBsn` for a booking, under `policy`.
    ///
    /// # Errors
    ///
    /// As [`Self::resolve`].
    pub fn booking_target_with(
        &self,
        customer: &str,
        branch: &BranchChoice,
        policy: Policy,
    ) -> Result<BookingTarget, Error> {
        let resolved = self.resolve(customer, branch, policy)?;
        Ok(BookingTarget {
            customer_number: resolved.customer.customer_number,
            customer_bsn: resolved.branch.customer_bsn,
            environment: self.environment.clone(),
        })
    }
}

fn find_branch_by_name<'a>(
    customer: &Customer,
    branches: &'a [CustomerBsn],
    name: &str,
) -> Result<Option<&'a CustomerBsn>, Error> {
    let exact: Vec<&CustomerBsn> = branches.iter().filter(|b| b.bsn_name == name).collect();
    let found = if exact.is_empty() {
        let lower = name.trim().to_lowercase();
        branches
            .iter()
            .filter(|b| b.bsn_name.to_lowercase() == lower)
            .collect()
    } else {
        exact
    };
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        several => Err(Error::Ambiguous {
            query: format!("{name} (a branch of {})", describe(customer)),
            candidates: several
                .iter()
                .map(|b| format!("{} {:?}", b.customer_bsn, b.bsn_name))
                .collect(),
        }),
    }
}

/// A customer as errors name it: `C00001 "CustomerExample"`.
pub(crate) fn describe(customer: &Customer) -> String {
    format!("{} {:?}", customer.customer_code, customer.customer_name)
}
