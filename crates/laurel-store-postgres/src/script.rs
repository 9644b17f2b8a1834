//! A transaction's statements sent as one message: a multi-statement simple
//! query of `EXECUTE`s of statements each connection prepared once. Stores,
//! resets, imports and progress reads go this way.
//!
//! Why not the driver's pipelining: `tokio-postgres` ends every statement it
//! sends with its own `Sync` (rust-postgres/rust-postgres#1213), so for each
//! statement the server closes an extended-query cycle, sends
//! `ReadyForQuery` and flushes its socket, and the node wakes up for each
//! answer. A store is thirteen statements; those cycles cost PostgreSQL
//! about 40 % more CPU per store than the same statements sent by libpq's
//! pipeline mode, with one `Sync` per round trip (docs/benchmarks.md). A
//! simple query is one cycle: the server runs its statements in order,
//! answers `ReadyForQuery` once, and stops at the first error — the
//! statements behind a failed one do not run, so nothing can commit after it.
//!
//! The statements are SQL-level prepared statements ([`Prepared`], `PREPARE`d
//! by every connection the pool opens, see [`prepare_sql`]): the server plans
//! them as it plans the driver's own, and parses an `EXECUTE` in
//! microseconds. Each argument is a quoted literal of the text its
//! parameter's input function reads ([`Literal`]): integers in decimal,
//! floats as their shortest exact decimal (`NaN` and `Infinity` spelled
//! out), booleans as `t`/`f`, arrays as `{…}` with every text element quoted,
//! the whole through `postgres_protocol::escape::escape_literal` (libpq's
//! `PQescapeLiteral`, right under either `standard_conforming_strings`).
//! Text holding a NUL byte cannot be a literal (nor a PostgreSQL text value)
//! and is refused before anything is sent. Answers come back as text, read
//! by [`crate::rows::Cells`]; the session sets `extra_float_digits` so that
//! floats come back exact (see `open`).

use std::fmt::Write as _;

use laurel_store::StoreError;
use tokio_postgres::{GenericClient, SimpleQueryMessage, SimpleQueryRow};

use crate::connection::{Context, Failure};

/// A statement every connection prepares when it opens, run in a
/// [`Script`] as `EXECUTE name(arguments)`.
pub(crate) struct Prepared {
    /// `laurel_…`: the session-wide name, apart from the driver's own.
    pub(crate) name: &'static str,
    /// The parameter types, in `PREPARE`'s list.
    pub(crate) params: &'static str,
    pub(crate) sql: &'static str,
}

/// The `PREPARE` of every statement in `statements`, as one simple query.
pub(crate) fn prepare_sql(statements: &[&Prepared]) -> String {
    let mut sql = String::new();
    for s in statements {
        // PREPARE takes no empty type list. (Writing to a String cannot fail.)
        let _ = if s.params.is_empty() {
            writeln!(sql, "PREPARE {} AS {};", s.name, s.sql)
        } else {
            writeln!(sql, "PREPARE {} ({}) AS {};", s.name, s.params, s.sql)
        };
    }
    sql
}

/// A value as the input function of its PostgreSQL type reads it. An
/// argument of a [`Script`] is that text as a quoted literal, of no type of
/// its own: the server hands it to the input function of the parameter's
/// declared type while it parses the `EXECUTE`, so each argument is one
/// constant, as a parameter of the extended protocol would be (an
/// `ARRAY[…]` of typed elements is an expression of a node per element,
/// which measured several times dearer to parse and evaluate).
pub(crate) trait Literal: Sync {
    /// Appends the text; `Ok(false)`, with nothing appended, for NULL.
    fn write_text(&self, out: &mut String) -> Result<bool, Unwritable>;

    /// Appends the value as an element of an array's text.
    fn write_element(&self, out: &mut String) -> Result<(), Unwritable> {
        if !self.write_text(out)? {
            out.push_str("NULL");
        }
        Ok(())
    }
}

/// Text with a NUL byte: PostgreSQL's text cannot hold it, and a query
/// message ends at it. Validation upstream never lets one through (names
/// have no control characters, keys are printable ASCII).
#[derive(Debug, thiserror::Error)]
#[error("a text value holds a NUL byte, which PostgreSQL cannot store")]
pub(crate) struct Unwritable;

macro_rules! integer_literal {
    ($($t:ty),*) => {$(
        impl Literal for $t {
            fn write_text(&self, out: &mut String) -> Result<bool, Unwritable> {
                let _ = write!(out, "{self}");
                Ok(true)
            }
        }
    )*};
}
integer_literal!(i16, i32, i64);

impl Literal for bool {
    fn write_text(&self, out: &mut String) -> Result<bool, Unwritable> {
        out.push(if *self { 't' } else { 'f' });
        Ok(true)
    }
}

macro_rules! float_literal {
    ($($t:ty),*) => {$(
        impl Literal for $t {
            fn write_text(&self, out: &mut String) -> Result<bool, Unwritable> {
                // Rust's `Debug` is the shortest decimal that reads back as
                // the same value, and PostgreSQL reads decimals correctly
                // rounded: the value arrives bit for bit (-0.0 included).
                if self.is_nan() {
                    out.push_str("NaN");
                } else if self.is_infinite() {
                    out.push_str(if *self > 0.0 { "Infinity" } else { "-Infinity" });
                } else {
                    let _ = write!(out, "{self:?}");
                }
                Ok(true)
            }
        }
    )*};
}
float_literal!(f32, f64);

impl Literal for str {
    fn write_text(&self, out: &mut String) -> Result<bool, Unwritable> {
        if self.contains('\0') {
            return Err(Unwritable);
        }
        out.push_str(self);
        Ok(true)
    }

    /// Always quoted, so that no text reads as NULL, a nested array or
    /// with its spaces trimmed; `"` and `\` escaped with a backslash.
    fn write_element(&self, out: &mut String) -> Result<(), Unwritable> {
        if self.contains('\0') {
            return Err(Unwritable);
        }
        out.push('"');
        for c in self.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        Ok(())
    }
}

impl Literal for String {
    fn write_text(&self, out: &mut String) -> Result<bool, Unwritable> {
        self.as_str().write_text(out)
    }
    fn write_element(&self, out: &mut String) -> Result<(), Unwritable> {
        self.as_str().write_element(out)
    }
}

impl<T: Literal + ?Sized> Literal for &T {
    fn write_text(&self, out: &mut String) -> Result<bool, Unwritable> {
        (**self).write_text(out)
    }
    fn write_element(&self, out: &mut String) -> Result<(), Unwritable> {
        (**self).write_element(out)
    }
}

impl<T: Literal> Literal for Option<T> {
    fn write_text(&self, out: &mut String) -> Result<bool, Unwritable> {
        match self {
            Some(value) => value.write_text(out),
            None => Ok(false),
        }
    }
    fn write_element(&self, out: &mut String) -> Result<(), Unwritable> {
        match self {
            Some(value) => value.write_element(out),
            None => {
                out.push_str("NULL");
                Ok(())
            }
        }
    }
}

/// A one-dimensional array, as `array_in` reads it: `{e1,e2,NULL}`.
pub(crate) struct Array<'a, T>(pub(crate) &'a [T]);

impl<T: Literal> Literal for Array<'_, T> {
    fn write_text(&self, out: &mut String) -> Result<bool, Unwritable> {
        out.push('{');
        for (i, element) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            element.write_element(out)?;
        }
        out.push('}');
        Ok(true)
    }
}

/// Statements to send as one simple query, and what each is for.
pub(crate) struct Script {
    sql: String,
    /// Where each argument's text is written before it is quoted.
    scratch: String,
    statements: usize,
    what: &'static str,
}

/// One statement's answer: its rows (text) and the count of its command tag.
pub(crate) struct Answer {
    pub(crate) rows: Vec<SimpleQueryRow>,
    pub(crate) affected: u64,
}

impl Script {
    /// `what` names the work in errors (the server's message says which
    /// statement failed and why).
    pub(crate) fn new(what: &'static str) -> Script {
        Script {
            sql: String::with_capacity(2_048),
            scratch: String::new(),
            statements: 0,
            what,
        }
    }

    /// Adds a statement without arguments (`BEGIN`, `COMMIT`); returns its
    /// index among the answers.
    pub(crate) fn plain(&mut self, sql: &'static str) -> usize {
        self.sql.push_str(sql);
        self.sql.push_str(";\n");
        self.statements += 1;
        self.statements - 1
    }

    /// Adds `EXECUTE statement(args)`; returns its index among the answers.
    pub(crate) fn execute(
        &mut self,
        statement: &Prepared,
        args: &[&dyn Literal],
    ) -> Result<usize, Failure> {
        let start = self.sql.len();
        self.sql.push_str("EXECUTE ");
        self.sql.push_str(statement.name);
        self.sql.push('(');
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.scratch.clear();
            match arg.write_text(&mut self.scratch) {
                Ok(true) => self
                    .sql
                    .push_str(&postgres_protocol::escape::escape_literal(&self.scratch)),
                Ok(false) => self.sql.push_str("NULL"),
                Err(e) => {
                    self.sql.truncate(start);
                    return Err(Failure::Store(StoreError::Backend(format!(
                        "{}: {e}",
                        self.what
                    ))));
                }
            }
        }
        self.sql.push_str(");\n");
        self.statements += 1;
        Ok(self.statements - 1)
    }

    /// How many statements the script holds.
    pub(crate) fn statements(&self) -> usize {
        self.statements
    }

    /// The SQL text, for tests.
    #[cfg(test)]
    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    /// Sends the statements as one message and collects one [`Answer`] per
    /// statement. A failed statement is the error (the server ran the ones
    /// before it and none after it); in a transaction it leaves the
    /// transaction aborted, to be rolled back.
    pub(crate) async fn run<C: GenericClient>(&self, client: &C) -> Result<Vec<Answer>, Failure> {
        if self.statements == 0 {
            return Ok(Vec::new());
        }
        let messages = client.simple_query(&self.sql).await.context(self.what)?;
        let mut answers = Vec::with_capacity(self.statements);
        let mut rows = Vec::new();
        for message in messages {
            match message {
                SimpleQueryMessage::Row(row) => rows.push(row),
                SimpleQueryMessage::CommandComplete(affected) => answers.push(Answer {
                    rows: std::mem::take(&mut rows),
                    affected,
                }),
                // Column names: the statements' columns are known by position.
                _ => {}
            }
        }
        if answers.len() != self.statements || !rows.is_empty() {
            return Err(Failure::Store(StoreError::Backend(format!(
                "{}: the database answered {} of {} statements",
                self.what,
                answers.len(),
                self.statements
            ))));
        }
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &dyn Literal) -> Option<String> {
        let mut out = String::new();
        value.write_text(&mut out).expect("writable").then_some(out)
    }

    #[test]
    fn values_are_written_as_postgresql_reads_them() {
        assert_eq!(text(&480i64).as_deref(), Some("480"));
        assert_eq!(text(&i64::MIN).as_deref(), Some("-9223372036854775808"));
        assert_eq!(text(&-3i16).as_deref(), Some("-3"));
        assert_eq!(text(&true).as_deref(), Some("t"));
        assert_eq!(text(&1.5f32).as_deref(), Some("1.5"));
        assert_eq!(text(&-0.0f32).as_deref(), Some("-0.0"));
        assert_eq!(text(&0.1f64).as_deref(), Some("0.1"));
        assert_eq!(text(&1e300f64).as_deref(), Some("1e300"));
        assert_eq!(text(&f64::NAN).as_deref(), Some("NaN"));
        assert_eq!(text(&f32::NEG_INFINITY).as_deref(), Some("-Infinity"));
        assert_eq!(text(&"it's").as_deref(), Some("it's"));
        assert_eq!(text(&None::<i64>), None);
        assert_eq!(
            text(&Array(&[Some(1.5f32), None])).as_deref(),
            Some("{1.5,NULL}")
        );
        assert_eq!(
            text(&Array(&["NULL", r#"a "b" \c"#, "{x,y}", " "])).as_deref(),
            Some(r#"{"NULL","a \"b\" \\c","{x,y}"," "}"#)
        );
        assert_eq!(text(&Array::<&str>(&[])).as_deref(), Some("{}"));
    }

    #[test]
    fn arguments_are_quoted_literals() {
        let statement = Prepared {
            name: "laurel_test",
            params: "int8, text, text[], float8",
            sql: "SELECT $1, $2, $3, $4",
        };
        let mut script = Script::new("testing");
        script
            .execute(
                &statement,
                &[&-5i64, &r"it's a \", &Array(&["x'y"]), &None::<f64>],
            )
            .expect("writable");
        assert_eq!(
            script.sql(),
            r#"EXECUTE laurel_test('-5',  E'it''s a \\', '{"x''y"}', NULL);
"#
        );
    }

    #[test]
    fn text_with_a_nul_is_refused_and_leaves_the_script_as_it_was() {
        let mut out = String::new();
        assert!("a\0b".write_text(&mut out).is_err());
        assert!(Array(&["a\0b"]).write_text(&mut out).is_err());
        let statement = Prepared {
            name: "laurel_test",
            params: "text",
            sql: "SELECT $1",
        };
        let mut script = Script::new("testing");
        script.plain("BEGIN");
        assert!(script.execute(&statement, &[&"a\0b"]).is_err());
        assert_eq!(script.sql(), "BEGIN;\n");
        assert_eq!(script.execute(&statement, &[&"ok"]).ok(), Some(1));
        assert_eq!(script.sql(), "BEGIN;\nEXECUTE laurel_test('ok');\n");
    }
}

/// What a [`Script`] writes, read back by PostgreSQL itself: the values
/// reach the server exactly, whatever they hold.
#[cfg(test)]
mod against_postgres {
    use super::*;
    use proptest::prelude::*;
    use tokio_postgres::NoTls;

    const ECHO: Prepared = Prepared {
        name: "laurel_test_echo",
        params: "text[], text, float4[], float8[], int8[], bool[]",
        sql: "INSERT INTO echo VALUES ($1, $2, $3, $4, $5, $6)",
    };

    fn same_f32(a: Option<f32>, b: Option<f32>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) if a.is_nan() => b.is_nan(),
            (Some(a), Some(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a.is_none() && b.is_none(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn every_value_reaches_postgresql_exactly(
            texts in proptest::collection::vec(proptest::option::of("[^\u{0}]{0,12}"), 0..6),
            text in "[^\u{0}]{0,40}",
            reals in proptest::collection::vec(proptest::option::of(any::<f32>()), 0..6),
            doubles in proptest::collection::vec(any::<f64>(), 0..6),
            ints in proptest::collection::vec(any::<i64>(), 0..6),
            bools in proptest::collection::vec(any::<bool>(), 0..4),
        ) {
            // One database for every case; each case's session has its own table.
            static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let url = URL.get_or_init(|| laurel_testkit::postgres::PostgresServer::shared().database());
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let row = runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
                tokio::spawn(connection);
                client
                    .batch_execute(&format!(
                        "CREATE TEMP TABLE echo (a text[], b text, c float4[], d float8[], e int8[], f bool[]); {}",
                        prepare_sql(&[&ECHO])
                    ))
                    .await
                    .expect("set up");
                let mut script = Script::new("echoing");
                script
                    .execute(
                        &ECHO,
                        &[&Array(&texts), &text, &Array(&reals), &Array(&doubles), &Array(&ints), &Array(&bools)],
                    )
                    .expect("writable");
                script.run(&client).await.expect("the script runs");
                client.query_one("SELECT a, b, c, d, e, f FROM echo", &[]).await.expect("read back")
            });
            let got_texts: Vec<Option<String>> = row.get(0);
            let got_text: String = row.get(1);
            let got_reals: Vec<Option<f32>> = row.get(2);
            let got_doubles: Vec<f64> = row.get(3);
            let got_ints: Vec<i64> = row.get(4);
            let got_bools: Vec<bool> = row.get(5);
            prop_assert_eq!(got_texts, texts);
            prop_assert_eq!(got_text, text);
            prop_assert_eq!(got_reals.len(), reals.len());
            for (a, b) in got_reals.iter().zip(&reals) {
                prop_assert!(same_f32(*a, *b), "{:?} came back as {:?}", b, a);
            }
            prop_assert_eq!(got_doubles.len(), doubles.len());
            for (a, b) in got_doubles.iter().zip(&doubles) {
                prop_assert!(if b.is_nan() { a.is_nan() } else { a.to_bits() == b.to_bits() }, "{:?} came back as {:?}", b, a);
            }
            prop_assert_eq!(got_ints, ints);
            prop_assert_eq!(got_bools, bools);
        }
    }
}
