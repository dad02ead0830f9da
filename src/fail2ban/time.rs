//! fail2ban's time expressions (`MyTime.str2seconds`): "600", "10m", "1d12h", "1 day 2 hours",
//! "1h+30m", "1year-6mo", "-1". fail2ban evaluates them as Python; this reads the same
//! arithmetic (numbers with units, + - * / and parentheses, spaces between parts meaning +)
//! without running anything.

/// Seconds per unit, as fail2ban counts them: a month is a twelfth of a year of 365.25 days.
const UNITS: &[(&[&str], f64)] = &[
    (&["d", "dd", "da", "day", "days"], 86_400.0),
    (&["w", "ww", "we", "wee", "week", "weeks"], 604_800.0),
    (&["mo", "mon", "month", "months"], 2_629_800.0),
    (&["y", "yy", "ye", "yea", "year", "years"], 31_557_600.0),
    (&["s", "ss", "se", "sec", "second", "seconds"], 1.0),
    (&["m", "mm", "mi", "min", "minute", "minutes"], 60.0),
    (&["h", "hh", "ho", "hou", "hour", "hours"], 3_600.0),
];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Op(char),
    Open,
    Close,
}

/// The seconds `text` stands for, or why it is not a fail2ban time.
pub fn seconds(text: &str) -> Result<f64, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, pos: 0 };
    let value = parser.sum()?;
    if parser.pos != parser.tokens.len() {
        return Err(format!("`{text}` is not a time fail2ban understands"));
    }
    Ok(value)
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let bad = || format!("`{text}` is not a time fail2ban understands (e.g. 600, 10m, 1d12h)");
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.trim().chars().collect();
    let mut i = 0;
    // a space between two operands is a `+` (fail2ban's "1d 12h")
    let mut gap = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            gap = true;
            i += 1;
            continue;
        }
        let operand_before = matches!(tokens.last(), Some(Token::Number(_) | Token::Close));
        if c.is_ascii_digit() || c == '.' {
            // "1d 12h" and "1d12h" alike: a number right after an operand adds to it
            if operand_before {
                tokens.push(Token::Op('+'));
            }
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let number: String = chars[start..i].iter().collect();
            let mut value: f64 = number.parse().map_err(|_| bad())?;
            // a unit right after the number, or after spaces ("1 day")
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let word_end = (j..chars.len())
                .find(|&k| !chars[k].is_ascii_alphabetic())
                .unwrap_or(chars.len());
            if word_end > j {
                let word = chars[j..word_end].iter().collect::<String>().to_lowercase();
                let unit = UNITS.iter().find(|(names, _)| names.contains(&word.as_str()));
                let Some((_, factor)) = unit else {
                    return Err(bad());
                };
                value *= factor;
                i = word_end;
            }
            tokens.push(Token::Number(value));
            gap = false;
            continue;
        }
        if "+-*/".contains(c) {
            tokens.push(Token::Op(c));
        } else if c == '(' {
            if gap && operand_before {
                tokens.push(Token::Op('+'));
            }
            tokens.push(Token::Open);
        } else if c == ')' {
            tokens.push(Token::Close);
        } else {
            return Err(bad());
        }
        gap = false;
        i += 1;
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut value = self.product()?;
        while let Some(Token::Op(op @ ('+' | '-'))) = self.peek().cloned() {
            self.pos += 1;
            let rhs = self.product()?;
            value = if op == '+' { value + rhs } else { value - rhs };
        }
        Ok(value)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut value = self.unary()?;
        while let Some(Token::Op(op @ ('*' | '/'))) = self.peek().cloned() {
            self.pos += 1;
            let rhs = self.unary()?;
            value = if op == '*' { value * rhs } else { value / rhs };
        }
        Ok(value)
    }

    fn unary(&mut self) -> Result<f64, String> {
        match self.peek().cloned() {
            Some(Token::Op('-')) => {
                self.pos += 1;
                Ok(-self.unary()?)
            }
            Some(Token::Op('+')) => {
                self.pos += 1;
                self.unary()
            }
            Some(Token::Number(n)) => {
                self.pos += 1;
                Ok(n)
            }
            Some(Token::Open) => {
                self.pos += 1;
                let value = self.sum()?;
                if self.peek() != Some(&Token::Close) {
                    return Err("a `(` is not closed".into());
                }
                self.pos += 1;
                Ok(value)
            }
            _ => Err("expected a number".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fail2bans_examples() {
        assert_eq!(seconds("600"), Ok(600.0));
        assert_eq!(seconds("10m"), Ok(600.0));
        assert_eq!(seconds("1d"), Ok(86_400.0));
        assert_eq!(seconds("1d12h"), Ok(129_600.0));
        assert_eq!(seconds("0d 1h 30m"), Ok(5_400.0));
        assert_eq!(seconds("1hour+30min"), Ok(5_400.0));
        assert_eq!(seconds("1year-6mo"), Ok(15_778_800.0));
        assert_eq!(seconds("6 months"), Ok(15_778_800.0));
        assert_eq!(seconds("1w"), Ok(604_800.0));
        assert_eq!(seconds("-1"), Ok(-1.0));
        assert_eq!(seconds("48h"), Ok(172_800.0));
        assert_eq!(seconds("2*1h"), Ok(7_200.0));
        assert_eq!(seconds("(1h + 1h) / 2"), Ok(3_600.0));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        assert!(seconds("").is_err());
        assert!(seconds("ten minutes").is_err());
        assert!(seconds("10 parsecs").is_err());
        assert!(seconds("1h +").is_err());
        assert!(seconds("(1h").is_err());
    }
}
