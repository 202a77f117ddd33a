//! The provider's documented business rules, checked per customer.
//!
//! Every customer has at least one branch, exactly one of which is the
//! headquarter (so a single branch must be it), and no `customerNumber` or
//! `customerBsn` is shared with another customer. A customer that breaks a
//! rule stays listed, with its problems.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::Customer;

/// One rule a customer breaks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RuleProblem {
    /// `bsns` is empty, null or absent.
    NoBranches,
    /// No branch has `isHeadquarter: true`.
    NoHeadquarter,
    /// More than one branch has `isHeadquarter: true`.
    SeveralHeadquarters {
        /// The `customerBsn` of each headquarter.
        bsns: Vec<i64>,
    },
    /// A `customerBsn` of this customer also belongs to another customer.
    SharedCustomerBsn {
        /// The shared value.
        bsn: i64,
        /// The `customerCode` of every other customer holding it.
        with: Vec<String>,
    },
    /// This customer's `customerNumber` also belongs to another customer.
    SharedCustomerNumber {
        /// The shared value.
        number: i64,
        /// The `customerCode` of every other customer holding it.
        with: Vec<String>,
    },
}

impl RuleProblem {
    /// A stable short name, e.g. `several-headquarters`.
    pub fn code(&self) -> &'static str {
        match self {
            RuleProblem::NoBranches => "no-branches",
            RuleProblem::NoHeadquarter => "no-headquarter",
            RuleProblem::SeveralHeadquarters { .. } => "several-headquarters",
            RuleProblem::SharedCustomerBsn { .. } => "shared-customer-bsn",
            RuleProblem::SharedCustomerNumber { .. } => "shared-customer-number",
        }
    }

    /// Whether the problem is an identifier shared with another customer,
    /// which no lenient policy may overlook.
    pub fn is_shared_identifier(&self) -> bool {
        matches!(
            self,
            RuleProblem::SharedCustomerBsn { .. } | RuleProblem::SharedCustomerNumber { .. }
        )
    }
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleProblem::NoBranches => f.write_str("no branches"),
            RuleProblem::NoHeadquarter => f.write_str("no headquarter branch"),
            RuleProblem::SeveralHeadquarters { bsns } => {
                write!(f, "{} headquarter branches ({})", bsns.len(), join(bsns))
            }
            RuleProblem::SharedCustomerBsn { bsn, with } => {
                write!(f, "customerBsn {bsn} is also used by {}", with.join(", "))
            }
            RuleProblem::SharedCustomerNumber { number, with } => {
                write!(
                    f,
                    "customerNumber {number} is also used by {}",
                    with.join(", ")
                )
            }
        }
    }
}

fn join(values: &[i64]) -> String {
    values
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The problems of every customer, in the order of `customers`.
pub fn check(customers: &[Customer]) -> Vec<Vec<RuleProblem>> {
    // Who holds each identifier, by position.
    let mut by_number: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut by_bsn: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (index, customer) in customers.iter().enumerate() {
        by_number
            .entry(customer.customer_number)
            .or_default()
            .push(index);
        for branch in customer.bsns.iter().flatten() {
            let holders = by_bsn.entry(branch.customer_bsn).or_default();
            if holders.last() != Some(&index) {
                holders.push(index);
            }
        }
    }
    let others = |holders: &[usize], me: usize| -> Vec<String> {
        holders
            .iter()
            .filter(|&&other| other != me)
            .map(|&other| customers[other].customer_code.clone())
            .collect()
    };

    customers
        .iter()
        .enumerate()
        .map(|(index, customer)| {
            let branches = customer.bsns.as_deref().unwrap_or_default();
            let mut problems = Vec::new();

            let headquarters: Vec<i64> = branches
                .iter()
                .filter(|b| b.is_headquarter)
                .map(|b| b.customer_bsn)
                .collect();
            match (branches.len(), headquarters.len()) {
                (0, _) => problems.push(RuleProblem::NoBranches),
                (_, 0) => problems.push(RuleProblem::NoHeadquarter),
                (_, 1) => {}
                _ => problems.push(RuleProblem::SeveralHeadquarters { bsns: headquarters }),
            }

            let mut shared_bsns: Vec<i64> = branches.iter().map(|b| b.customer_bsn).collect();
            shared_bsns.sort_unstable();
            shared_bsns.dedup();
            for bsn in shared_bsns {
                let with = others(&by_bsn[&bsn], index);
                if !with.is_empty() {
                    problems.push(RuleProblem::SharedCustomerBsn { bsn, with });
                }
            }

            let with = others(&by_number[&customer.customer_number], index);
            if !with.is_empty() {
                problems.push(RuleProblem::SharedCustomerNumber {
                    number: customer.customer_number,
                    with,
                });
            }
            problems
        })
        .collect()
}
