//! How customers are written: a table, JSON, JSON lines or CSV.

use std::io::{self, Write};

use comfy_table::{ContentArrangement, Table, presets};
use primo_connect::types::Customer;
use primo_connect::{CustomerDirectory, RuleProblem};

/// Writes customers one at a time, as they arrive, in a streaming format.
pub enum StreamWriter<W: Write> {
    /// A JSON array, opened before the first customer.
    Json { out: W, first: bool },
    /// One JSON object per line.
    Jsonl { out: W },
    /// One CSV row per branch (boxed: the CSV writer carries its own buffer).
    Csv { out: Box<csv::Writer<W>> },
}

/// The CSV columns: one row per branch, the customer repeated.
const CSV_HEADER: [&str; 8] = [
    "customerCode",
    "customerName",
    "customerNumber",
    "isActive",
    "customerId",
    "customerBsn",
    "bsnName",
    "isHeadquarter",
];

impl<W: Write> StreamWriter<W> {
    pub fn json(out: W) -> Self {
        StreamWriter::Json { out, first: true }
    }

    pub fn jsonl(out: W) -> Self {
        StreamWriter::Jsonl { out }
    }

    pub fn csv(out: W) -> io::Result<Self> {
        let mut out = csv::Writer::from_writer(out);
        out.write_record(CSV_HEADER).map_err(csv_io_error)?;
        Ok(StreamWriter::Csv { out: Box::new(out) })
    }

    pub fn write(&mut self, customer: &Customer) -> io::Result<()> {
        match self {
            StreamWriter::Json { out, first } => {
                out.write_all(if *first { b"[\n  " } else { b",\n  " })?;
                *first = false;
                serde_json::to_writer(&mut *out, customer)?;
            }
            StreamWriter::Jsonl { out } => {
                serde_json::to_writer(&mut *out, customer)?;
                out.write_all(b"\n")?;
            }
            StreamWriter::Csv { out } => {
                for row in csv_rows(customer) {
                    out.write_record(&row).map_err(csv_io_error)?;
                }
            }
        }
        Ok(())
    }

    pub fn finish(self) -> io::Result<()> {
        match self {
            StreamWriter::Json { mut out, first } => {
                out.write_all(if first { b"[]\n" } else { b"\n]\n" })?;
                out.flush()
            }
            StreamWriter::Jsonl { mut out } => out.flush(),
            StreamWriter::Csv { mut out } => out.flush(),
        }
    }
}

/// Keeps the kind of an I/O error inside a CSV error, so that a closed pipe
/// is still recognised as one.
fn csv_io_error(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("{other:?}")),
    }
}

fn csv_rows(customer: &Customer) -> Vec<[String; 8]> {
    let head = [
        customer.customer_code.clone(),
        customer.customer_name.clone(),
        customer.customer_number.to_string(),
        customer.is_active.to_string(),
        customer.customer_id.to_string(),
    ];
    let branches = customer.bsns.as_deref().unwrap_or_default();
    if branches.is_empty() {
        let [a, b, c, d, e] = head;
        return vec![[a, b, c, d, e, String::new(), String::new(), String::new()]];
    }
    branches
        .iter()
        .map(|branch| {
            let [a, b, c, d, e] = head.clone();
            [
                a,
                b,
                c,
                d,
                e,
                branch.customer_bsn.to_string(),
                branch.bsn_name.clone(),
                branch.is_headquarter.to_string(),
            ]
        })
        .collect()
}

/// The customers of `directory` accepted by `keep`, as a table with each
/// one's headquarter and rule problems.
pub fn table(directory: &CustomerDirectory, keep: impl Fn(&Customer) -> bool) -> Table {
    let mut table = new_table([
        "Code",
        "Name",
        "Number",
        "Active",
        "HQ customerBsn",
        "Branches",
        "Problems",
    ]);
    for (customer, problems) in directory.entries().filter(|(c, _)| keep(c)) {
        let branches = customer.bsns.as_deref().unwrap_or_default();
        let headquarter = match (
            !problems.is_empty(),
            branches.iter().find(|b| b.is_headquarter),
        ) {
            (false, Some(hq)) => hq.customer_bsn.to_string(),
            _ => "-".to_owned(),
        };
        table.add_row([
            customer.customer_code.clone(),
            customer.customer_name.clone(),
            customer.customer_number.to_string(),
            if customer.is_active { "yes" } else { "NO" }.to_owned(),
            headquarter,
            branches.len().to_string(),
            render_problems(problems),
        ]);
    }
    table
}

/// One customer, its branches and problems, as text.
pub fn show(directory: &CustomerDirectory, customer: &Customer) -> String {
    let problems = directory.problems_of(customer);
    let mut text = format!(
        "{} {:?}\n  customerNumber  {}\n  customerId      {}\n  active          {}\n  created         {}\n  problems        {}\n\n",
        customer.customer_code,
        customer.customer_name,
        customer.customer_number,
        customer.customer_id,
        if customer.is_active {
            "yes"
        } else {
            "NO: quotes and bookings are not allowed"
        },
        customer
            .created
            .as_ref()
            .map_or("-".to_owned(), ToString::to_string),
        render_problems(problems),
    );
    let mut branches = new_table(["customerBsn", "Branch", "Headquarter"]);
    for branch in customer.bsns.iter().flatten() {
        branches.add_row([
            branch.customer_bsn.to_string(),
            branch.bsn_name.clone(),
            if branch.is_headquarter { "yes" } else { "" }.to_owned(),
        ]);
    }
    text.push_str(&branches.to_string());
    text.push('\n');
    text
}

fn new_table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    table
}

fn render_problems(problems: &[RuleProblem]) -> String {
    if problems.is_empty() {
        return "-".to_owned();
    }
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
