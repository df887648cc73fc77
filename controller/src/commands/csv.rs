//! Comma-separated values as RFC 4180 writes them.

/// `field` quoted when it holds a comma, a quote or a line break, with quotes doubled.
pub fn field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// One CSV line of `fields`, ended with a line feed.
pub fn row<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields.iter().map(|f| field(f.as_ref())).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_and_newlines_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(
            field("Foundation base fee (basic), 10 of 30 days"),
            "\"Foundation base fee (basic), 10 of 30 days\""
        );
        assert_eq!(field("the \"Pro\" tier"), "\"the \"\"Pro\"\" tier\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field(""), "");
        assert_eq!(row(&["a", "b,c", "d\"e"]), "a,\"b,c\",\"d\"\"e\"\n");
    }
}
