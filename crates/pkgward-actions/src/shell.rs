//! A small POSIX `sh` lexer and parser for the subset maintainer scripts
//! use: quoting (`'…'`, `"…"`, `\`), parameter expansion (`$x`, `${x:-y}`),
//! command substitution (`$(…)`, backticks, kept as source text),
//! operators (`&&`, `||`, `|`, `;`, `&`, `;;`), redirections including
//! here-documents (`<<EOF`, `<<-EOF`, quoted delimiters), line
//! continuations, comments, and the compound commands `if`, `case`, `for`,
//! `while`/`until`, `{ …; }`, `( … )` and function definitions.
//!
//! Whole scripts are never matched with regular expressions: the classifier
//! in [`crate::scripts`] walks this syntax tree, so a command hidden behind a
//! continuation or a quote is seen for what the shell would run. Anything the
//! parser does not understand is an error with a line number, and the
//! classifier turns it into residue.

use std::fmt;

/// One piece of a shell word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordPart {
    /// Literal text; `quoted` when it came from quotes or a backslash
    /// (so glob characters in it are not special).
    Literal { text: String, quoted: bool },
    /// `$name`, `${name}`, `${name:-word}` …; `modifier` is the raw text
    /// after the name inside braces (`:-/`), `quoted` when inside `"…"`.
    Parameter {
        name: String,
        modifier: Option<String>,
        quoted: bool,
    },
    /// `$(…)` or `` `…` ``, kept as source for a recursive parse.
    CommandSubstitution { source: String, quoted: bool },
    /// `$((…))`.
    Arithmetic { source: String },
}

/// A shell word: a sequence of parts with no unquoted blank between them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    pub parts: Vec<WordPart>,
}

impl Word {
    /// The word's text when it is entirely literal.
    pub fn literal(&self) -> Option<String> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                WordPart::Literal { text: piece, .. } => text.push_str(piece),
                _ => return None,
            }
        }
        Some(text)
    }

    /// Whether any part is an unquoted literal containing glob characters.
    pub fn has_unquoted_glob(&self) -> bool {
        self.parts.iter().any(|part| {
            matches!(part, WordPart::Literal { text, quoted: false } if text.contains(['*', '?', '[']))
        })
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                WordPart::Literal { text, .. } => f.write_str(text)?,
                WordPart::Parameter { name, modifier, .. } => match modifier {
                    Some(modifier) => write!(f, "${{{name}{modifier}}}")?,
                    None => write!(f, "${name}")?,
                },
                WordPart::CommandSubstitution { source, .. } => write!(f, "$({source})")?,
                WordPart::Arithmetic { source } => write!(f, "$(({source}))")?,
            }
        }
        Ok(())
    }
}

/// Redirection operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectOperator {
    Input,
    Output,
    Append,
    Clobber,
    DuplicateInput,
    DuplicateOutput,
    ReadWrite,
    HereDocument,
}

/// A redirection; here-documents carry their body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub descriptor: Option<u32>,
    pub operator: RedirectOperator,
    pub target: Word,
    /// Here-document body (after `<<-` tab stripping).
    pub here_document: Option<String>,
}

impl Redirect {
    /// True for redirections that cannot change anything: to `/dev/null`,
    /// descriptor duplications and input from files.
    pub fn is_harmless(&self) -> bool {
        match self.operator {
            RedirectOperator::Input
            | RedirectOperator::DuplicateInput
            | RedirectOperator::DuplicateOutput
            | RedirectOperator::HereDocument => true,
            RedirectOperator::Output | RedirectOperator::Append | RedirectOperator::Clobber => {
                self.target.literal().as_deref() == Some("/dev/null")
            }
            RedirectOperator::ReadWrite => false,
        }
    }
}

/// A simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    pub line: usize,
    pub assignments: Vec<(String, Word)>,
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
}

/// One `case` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseArm {
    pub patterns: Vec<Word>,
    pub body: List,
}

/// Commands, simple and compound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Simple(SimpleCommand),
    If {
        line: usize,
        branches: Vec<(List, List)>,
        otherwise: Option<List>,
        redirects: Vec<Redirect>,
    },
    Case {
        line: usize,
        word: Word,
        arms: Vec<CaseArm>,
        redirects: Vec<Redirect>,
    },
    For {
        line: usize,
        variable: String,
        words: Option<Vec<Word>>,
        body: List,
        redirects: Vec<Redirect>,
    },
    Loop {
        line: usize,
        until: bool,
        condition: List,
        body: List,
        redirects: Vec<Redirect>,
    },
    Group {
        line: usize,
        body: List,
        redirects: Vec<Redirect>,
    },
    Subshell {
        line: usize,
        body: List,
        redirects: Vec<Redirect>,
    },
    FunctionDefinition {
        line: usize,
        name: String,
        body: Box<Command>,
    },
}

impl Command {
    /// The line the command starts on.
    pub fn line(&self) -> usize {
        match self {
            Command::Simple(simple) => simple.line,
            Command::If { line, .. }
            | Command::Case { line, .. }
            | Command::For { line, .. }
            | Command::Loop { line, .. }
            | Command::Group { line, .. }
            | Command::Subshell { line, .. }
            | Command::FunctionDefinition { line, .. } => *line,
        }
    }

    /// Redirections attached to a compound command.
    pub fn redirects(&self) -> &[Redirect] {
        match self {
            Command::Simple(simple) => &simple.redirects,
            Command::If { redirects, .. }
            | Command::Case { redirects, .. }
            | Command::For { redirects, .. }
            | Command::Loop { redirects, .. }
            | Command::Group { redirects, .. }
            | Command::Subshell { redirects, .. } => redirects,
            Command::FunctionDefinition { .. } => &[],
        }
    }
}

/// `cmd | cmd | …`, optionally negated with `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub negated: bool,
    pub commands: Vec<Command>,
}

/// Connector of an and-or list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    And,
    Or,
}

/// `pipeline && pipeline || …`, with `background` set for a trailing `&`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
    pub background: bool,
}

/// A sequence of and-or lists.
pub type List = Vec<AndOr>;

/// A syntax error (or an unsupported construct) with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ShellSyntaxError {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(Word),
    /// A word made only of digits immediately followed by `<` or `>`.
    DescriptorNumber(u32),
    Operator(&'static str),
    Newline,
    End,
}

struct PendingHereDocument {
    delimiter: String,
    strip_tabs: bool,
    /// Index into the lexer's here-document body slots.
    slot: usize,
}

/// The lexer: context-free tokenisation except for here-documents, whose
/// bodies are read at the next newline.
struct Lexer<'a> {
    chars: Vec<char>,
    position: usize,
    line: usize,
    pending: Vec<PendingHereDocument>,
    bodies: Vec<Option<String>>,
    _source: &'a str,
}

const OPERATORS: &[&str] = &[
    "<<-", "&&", "||", ";;", "<<", ">>", ">&", "<&", ">|", "<>", ";", "&", "|", "(", ")", "<", ">",
];

impl<'a> Lexer<'a> {
    fn new(source: &'a str) -> Self {
        Self {
            chars: source.chars().collect(),
            position: 0,
            line: 1,
            pending: Vec::new(),
            bodies: Vec::new(),
            _source: source,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.position + offset).copied()
    }

    fn error(&self, reason: impl Into<String>) -> ShellSyntaxError {
        ShellSyntaxError {
            line: self.line,
            reason: reason.into(),
        }
    }

    fn advance(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.position += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Skips `\<newline>` pairs (line continuations) at the current position.
    fn skip_continuations(&mut self) {
        while self.peek() == Some('\\') && self.peek_at(1) == Some('\n') {
            self.advance();
            self.advance();
        }
    }

    fn next_token(&mut self) -> Result<Token, ShellSyntaxError> {
        loop {
            self.skip_continuations();
            match self.peek() {
                Some(' ' | '\t' | '\r') => {
                    self.advance();
                }
                Some('#') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.advance();
                    }
                }
                _ => break,
            }
        }
        let Some(c) = self.peek() else {
            if let Some(pending) = self.pending.first() {
                return Err(self.error(format!(
                    "here-document `{}` is not terminated",
                    pending.delimiter
                )));
            }
            return Ok(Token::End);
        };
        if c == '\n' {
            self.advance();
            self.read_here_document_bodies()?;
            return Ok(Token::Newline);
        }
        for operator in OPERATORS {
            if operator
                .chars()
                .enumerate()
                .all(|(offset, expected)| self.peek_at(offset) == Some(expected))
            {
                for _ in 0..operator.len() {
                    self.advance();
                }
                return Ok(Token::Operator(operator));
            }
        }
        // A descriptor number: digits directly followed by `<` or `>`.
        let mut digits = 0;
        while self.peek_at(digits).is_some_and(|c| c.is_ascii_digit()) {
            digits += 1;
        }
        if digits > 0 && matches!(self.peek_at(digits), Some('<' | '>')) {
            let text: String = self.chars[self.position..self.position + digits]
                .iter()
                .collect();
            self.position += digits;
            return Ok(Token::DescriptorNumber(
                text.parse()
                    .map_err(|_| self.error("descriptor number out of range"))?,
            ));
        }
        Ok(Token::Word(self.read_word()?))
    }

    fn read_here_document_bodies(&mut self) -> Result<(), ShellSyntaxError> {
        let pending = std::mem::take(&mut self.pending);
        for document in pending {
            let start_line = self.line;
            let mut body = String::new();
            loop {
                if self.peek().is_none() {
                    return Err(ShellSyntaxError {
                        line: start_line,
                        reason: format!("here-document `{}` is not terminated", document.delimiter),
                    });
                }
                let mut line = String::new();
                while let Some(c) = self.peek() {
                    self.advance();
                    if c == '\n' {
                        break;
                    }
                    line.push(c);
                }
                let compared = if document.strip_tabs {
                    line.trim_start_matches('\t').to_owned()
                } else {
                    line.clone()
                };
                if compared == document.delimiter {
                    break;
                }
                body.push_str(&compared);
                body.push('\n');
            }
            self.bodies[document.slot] = Some(body);
        }
        Ok(())
    }

    /// Reads balanced text up to the closing `close` (for `$(`, `${`, `$((`),
    /// honouring quotes so a `)` inside `'…'` does not end it.
    fn read_balanced(&mut self, open: char, close: char) -> Result<String, ShellSyntaxError> {
        let start_line = self.line;
        let mut depth = 1;
        let mut text = String::new();
        while let Some(c) = self.advance() {
            match c {
                '\\' => {
                    text.push(c);
                    if let Some(next) = self.advance() {
                        text.push(next);
                    }
                    continue;
                }
                '\'' => {
                    text.push(c);
                    while let Some(inner) = self.advance() {
                        text.push(inner);
                        if inner == '\'' {
                            break;
                        }
                    }
                    continue;
                }
                '"' => {
                    text.push(c);
                    while let Some(inner) = self.advance() {
                        text.push(inner);
                        if inner == '\\' {
                            if let Some(escaped) = self.advance() {
                                text.push(escaped);
                            }
                        } else if inner == '"' {
                            break;
                        }
                    }
                    continue;
                }
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(text);
                    }
                }
                _ => {}
            }
            text.push(c);
        }
        Err(ShellSyntaxError {
            line: start_line,
            reason: format!("unterminated `{open}`"),
        })
    }

    fn read_dollar(&mut self, quoted: bool) -> Result<Option<WordPart>, ShellSyntaxError> {
        // Called with the `$` consumed.
        match self.peek() {
            Some('(') => {
                self.advance();
                if self.peek() == Some('(') {
                    self.advance();
                    let source = self.read_balanced('(', ')')?;
                    if self.advance() != Some(')') {
                        return Err(self.error("unterminated `$((`"));
                    }
                    return Ok(Some(WordPart::Arithmetic { source }));
                }
                let source = self.read_balanced('(', ')')?;
                Ok(Some(WordPart::CommandSubstitution { source, quoted }))
            }
            Some('{') => {
                self.advance();
                let inner = self.read_balanced('{', '}')?;
                let name_len = inner
                    .char_indices()
                    .find(|(index, c)| {
                        !(c.is_ascii_alphanumeric()
                            || *c == '_'
                            || (*index == 0
                                && matches!(c, '#' | '@' | '*' | '?' | '!' | '$' | '-')))
                    })
                    .map_or(inner.len(), |(index, _)| index);
                let (name, modifier) = inner.split_at(name_len);
                if name.is_empty() {
                    return Err(self.error(format!("bad substitution `${{{inner}}}`")));
                }
                Ok(Some(WordPart::Parameter {
                    name: name.to_owned(),
                    modifier: (!modifier.is_empty()).then(|| modifier.to_owned()),
                    quoted,
                }))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    name.push(self.advance().unwrap_or('_'));
                }
                Ok(Some(WordPart::Parameter {
                    name,
                    modifier: None,
                    quoted,
                }))
            }
            Some(c)
                if c.is_ascii_digit() || matches!(c, '#' | '@' | '*' | '?' | '!' | '$' | '-') =>
            {
                self.advance();
                Ok(Some(WordPart::Parameter {
                    name: c.to_string(),
                    modifier: None,
                    quoted,
                }))
            }
            _ => Ok(None),
        }
    }

    fn read_word(&mut self) -> Result<Word, ShellSyntaxError> {
        let mut parts: Vec<WordPart> = Vec::new();
        let push_literal = |parts: &mut Vec<WordPart>, c: char, quoted: bool| {
            if let Some(WordPart::Literal {
                text,
                quoted: was_quoted,
            }) = parts.last_mut()
            {
                if *was_quoted == quoted {
                    text.push(c);
                    return;
                }
            }
            parts.push(WordPart::Literal {
                text: c.to_string(),
                quoted,
            });
        };
        loop {
            self.skip_continuations();
            let Some(c) = self.peek() else { break };
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>' => break,
                '\\' => {
                    self.advance();
                    if let Some(escaped) = self.advance() {
                        push_literal(&mut parts, escaped, true);
                    }
                }
                '\'' => {
                    let start_line = self.line;
                    self.advance();
                    let mut closed = false;
                    if !matches!(parts.last(), Some(WordPart::Literal { quoted: true, .. })) {
                        parts.push(WordPart::Literal {
                            text: String::new(),
                            quoted: true,
                        });
                    }
                    while let Some(inner) = self.advance() {
                        if inner == '\'' {
                            closed = true;
                            break;
                        }
                        push_literal(&mut parts, inner, true);
                    }
                    if !closed {
                        return Err(ShellSyntaxError {
                            line: start_line,
                            reason: "unterminated single quote".to_owned(),
                        });
                    }
                }
                '"' => {
                    let start_line = self.line;
                    self.advance();
                    if !matches!(parts.last(), Some(WordPart::Literal { quoted: true, .. })) {
                        parts.push(WordPart::Literal {
                            text: String::new(),
                            quoted: true,
                        });
                    }
                    let mut closed = false;
                    while let Some(inner) = self.peek() {
                        match inner {
                            '"' => {
                                self.advance();
                                closed = true;
                                break;
                            }
                            '\\' => {
                                self.advance();
                                match self.advance() {
                                    Some('\n') => {}
                                    Some(escaped @ ('$' | '`' | '"' | '\\')) => {
                                        push_literal(&mut parts, escaped, true);
                                    }
                                    Some(other) => {
                                        push_literal(&mut parts, '\\', true);
                                        push_literal(&mut parts, other, true);
                                    }
                                    None => break,
                                }
                            }
                            '$' => {
                                self.advance();
                                match self.read_dollar(true)? {
                                    Some(part) => parts.push(part),
                                    None => push_literal(&mut parts, '$', true),
                                }
                            }
                            '`' => {
                                self.advance();
                                let source = self.read_backticks()?;
                                parts.push(WordPart::CommandSubstitution {
                                    source,
                                    quoted: true,
                                });
                            }
                            _ => {
                                self.advance();
                                push_literal(&mut parts, inner, true);
                            }
                        }
                    }
                    if !closed {
                        return Err(ShellSyntaxError {
                            line: start_line,
                            reason: "unterminated double quote".to_owned(),
                        });
                    }
                }
                '$' => {
                    self.advance();
                    match self.read_dollar(false)? {
                        Some(part) => parts.push(part),
                        None => push_literal(&mut parts, '$', false),
                    }
                }
                '`' => {
                    self.advance();
                    let source = self.read_backticks()?;
                    parts.push(WordPart::CommandSubstitution {
                        source,
                        quoted: false,
                    });
                }
                _ => {
                    self.advance();
                    push_literal(&mut parts, c, false);
                }
            }
        }
        Ok(Word { parts })
    }

    fn read_backticks(&mut self) -> Result<String, ShellSyntaxError> {
        let start_line = self.line;
        let mut source = String::new();
        while let Some(c) = self.advance() {
            match c {
                '`' => return Ok(source),
                '\\' => {
                    if let Some(next) = self.advance() {
                        if !matches!(next, '`' | '\\' | '$') {
                            source.push('\\');
                        }
                        source.push(next);
                    }
                }
                _ => source.push(c),
            }
        }
        Err(ShellSyntaxError {
            line: start_line,
            reason: "unterminated backquote".to_owned(),
        })
    }
}

/// The recursive-descent parser over the lexer's tokens.
struct Parser<'a> {
    lexer: Lexer<'a>,
    lookahead: Option<(Token, usize)>,
}

const RESERVED_WORDS: &[&str] = &[
    "if", "then", "elif", "else", "fi", "case", "esac", "for", "in", "do", "done", "while",
    "until", "{", "}", "!", "function",
];

impl Parser<'_> {
    fn peek(&mut self) -> Result<&Token, ShellSyntaxError> {
        if self.lookahead.is_none() {
            let line_before = self.lexer.line;
            let token = self.lexer.next_token()?;
            let line = if token == Token::Newline {
                line_before
            } else {
                self.lexer.line
            };
            self.lookahead = Some((token, line));
        }
        Ok(&self.lookahead.as_ref().expect("just filled").0)
    }

    fn line(&mut self) -> usize {
        let _ = self.peek();
        self.lookahead
            .as_ref()
            .map_or(self.lexer.line, |(_, line)| *line)
    }

    fn next(&mut self) -> Result<Token, ShellSyntaxError> {
        self.peek()?;
        Ok(self.lookahead.take().expect("peeked").0)
    }

    fn error(&mut self, reason: impl Into<String>) -> ShellSyntaxError {
        ShellSyntaxError {
            line: self.line(),
            reason: reason.into(),
        }
    }

    /// Whether the next token is the reserved word `word` (unquoted literal).
    fn at_reserved(&mut self, word: &str) -> Result<bool, ShellSyntaxError> {
        Ok(matches!(self.peek()?, Token::Word(w) if is_unquoted(w, word)))
    }

    fn expect_reserved(&mut self, word: &str) -> Result<(), ShellSyntaxError> {
        if self.at_reserved(word)? {
            self.next()?;
            Ok(())
        } else {
            let found = describe(self.peek()?);
            Err(self.error(format!("expected `{word}`, found {found}")))
        }
    }

    fn skip_newlines(&mut self) -> Result<(), ShellSyntaxError> {
        while *self.peek()? == Token::Newline {
            self.next()?;
        }
        Ok(())
    }

    /// Parses a list until one of `terminators` (reserved words or
    /// operators like `)` / `;;`) or the end.
    fn parse_list(&mut self, terminators: &[&str]) -> Result<List, ShellSyntaxError> {
        let mut list = Vec::new();
        loop {
            self.skip_newlines()?;
            let stop = match self.peek()? {
                Token::End => true,
                Token::Operator(op) => terminators.contains(op),
                Token::Word(word) => terminators.iter().any(|t| is_unquoted(word, t)),
                _ => false,
            };
            if stop {
                return Ok(list);
            }
            let mut and_or = self.parse_and_or()?;
            match self.peek()? {
                Token::Operator(";") | Token::Newline => {
                    self.next()?;
                }
                Token::Operator("&") => {
                    self.next()?;
                    and_or.background = true;
                }
                _ => {}
            }
            list.push(and_or);
        }
    }

    fn parse_and_or(&mut self) -> Result<AndOr, ShellSyntaxError> {
        let first = self.parse_pipeline()?;
        let mut rest = Vec::new();
        loop {
            let connector = match self.peek()? {
                Token::Operator("&&") => Connector::And,
                Token::Operator("||") => Connector::Or,
                _ => break,
            };
            self.next()?;
            self.skip_newlines()?;
            rest.push((connector, self.parse_pipeline()?));
        }
        Ok(AndOr {
            first,
            rest,
            background: false,
        })
    }

    fn parse_pipeline(&mut self) -> Result<Pipeline, ShellSyntaxError> {
        let negated = if self.at_reserved("!")? {
            self.next()?;
            true
        } else {
            false
        };
        let mut commands = vec![self.parse_command()?];
        while *self.peek()? == Token::Operator("|") {
            self.next()?;
            self.skip_newlines()?;
            commands.push(self.parse_command()?);
        }
        Ok(Pipeline { negated, commands })
    }

    fn parse_redirects(&mut self, redirects: &mut Vec<Redirect>) -> Result<(), ShellSyntaxError> {
        while let Some(redirect) = self.try_parse_redirect()? {
            redirects.push(redirect);
        }
        Ok(())
    }

    fn try_parse_redirect(&mut self) -> Result<Option<Redirect>, ShellSyntaxError> {
        let descriptor = match self.peek()? {
            Token::DescriptorNumber(number) => {
                let number = *number;
                self.next()?;
                Some(number)
            }
            Token::Operator(_) => None,
            _ => return Ok(None),
        };
        let operator = match self.peek()? {
            Token::Operator("<") => RedirectOperator::Input,
            Token::Operator(">") => RedirectOperator::Output,
            Token::Operator(">>") => RedirectOperator::Append,
            Token::Operator(">|") => RedirectOperator::Clobber,
            Token::Operator("<&") => RedirectOperator::DuplicateInput,
            Token::Operator(">&") => RedirectOperator::DuplicateOutput,
            Token::Operator("<>") => RedirectOperator::ReadWrite,
            Token::Operator("<<" | "<<-") => RedirectOperator::HereDocument,
            _ => {
                if descriptor.is_some() {
                    return Err(self.error("descriptor number without a redirection"));
                }
                return Ok(None);
            }
        };
        let strip_tabs = *self.peek()? == Token::Operator("<<-");
        self.next()?;
        let Token::Word(target) = self.next()? else {
            return Err(self.error("redirection without a target"));
        };
        let mut here_document = None;
        if operator == RedirectOperator::HereDocument {
            let delimiter: String = target
                .parts
                .iter()
                .map(|part| match part {
                    WordPart::Literal { text, .. } => text.clone(),
                    other => Word {
                        parts: vec![other.clone()],
                    }
                    .to_string(),
                })
                .collect();
            let slot = self.lexer.bodies.len();
            self.lexer.bodies.push(None);
            self.lexer.pending.push(PendingHereDocument {
                delimiter,
                strip_tabs,
                slot,
            });
            // The body is read at the next newline; store the slot index.
            here_document = Some(format!("\u{0}slot:{slot}"));
        }
        Ok(Some(Redirect {
            descriptor,
            operator,
            target,
            here_document,
        }))
    }

    fn parse_command(&mut self) -> Result<Command, ShellSyntaxError> {
        let line = self.line();
        let token = self.peek()?.clone();
        match token {
            Token::Operator("(") => {
                self.next()?;
                let body = self.parse_list(&[")"])?;
                if self.next()? != Token::Operator(")") {
                    return Err(self.error("expected `)`"));
                }
                let mut redirects = Vec::new();
                self.parse_redirects(&mut redirects)?;
                Ok(Command::Subshell {
                    line,
                    body,
                    redirects,
                })
            }
            Token::Word(word)
                if word.literal().is_some()
                    && !word
                        .parts
                        .iter()
                        .any(|p| matches!(p, WordPart::Literal { quoted: true, .. })) =>
            {
                let text = word.literal().unwrap_or_default();
                match text.as_str() {
                    "if" => self.parse_if(line),
                    "case" => self.parse_case(line),
                    "for" => self.parse_for(line),
                    "while" | "until" => self.parse_loop(line, text == "until"),
                    "{" => {
                        self.next()?;
                        let body = self.parse_list(&["}"])?;
                        self.expect_reserved("}")?;
                        let mut redirects = Vec::new();
                        self.parse_redirects(&mut redirects)?;
                        Ok(Command::Group {
                            line,
                            body,
                            redirects,
                        })
                    }
                    "function" => {
                        self.next()?;
                        let Token::Word(name) = self.next()? else {
                            return Err(self.error("`function` without a name"));
                        };
                        let name = name.literal().unwrap_or_default();
                        if *self.peek()? == Token::Operator("(") {
                            self.next()?;
                            if self.next()? != Token::Operator(")") {
                                return Err(
                                    self.error("expected `)` after `(` in function definition")
                                );
                            }
                        }
                        self.skip_newlines()?;
                        let body = Box::new(self.parse_command()?);
                        Ok(Command::FunctionDefinition { line, name, body })
                    }
                    "then" | "elif" | "else" | "fi" | "esac" | "do" | "done" | "}" | "in" => {
                        Err(self.error(format!("unexpected `{text}`")))
                    }
                    _ => self.parse_simple_or_function(line),
                }
            }
            Token::Word(_)
            | Token::DescriptorNumber(_)
            | Token::Operator("<" | ">" | ">>" | "<<" | "<<-" | ">&" | "<&" | ">|" | "<>") => {
                self.parse_simple_or_function(line)
            }
            other => Err(self.error(format!("unexpected {}", describe(&other)))),
        }
    }

    fn parse_simple_or_function(&mut self, line: usize) -> Result<Command, ShellSyntaxError> {
        let mut simple = SimpleCommand {
            line,
            assignments: Vec::new(),
            words: Vec::new(),
            redirects: Vec::new(),
        };
        loop {
            if let Some(redirect) = self.try_parse_redirect()? {
                simple.redirects.push(redirect);
                continue;
            }
            match self.peek()?.clone() {
                Token::Word(word) => {
                    // `name()` starts a function definition.
                    if simple.words.is_empty() && simple.assignments.is_empty() {
                        if let Some(name) = word.literal() {
                            self.next()?;
                            if *self.peek()? == Token::Operator("(") && is_name(&name) {
                                self.next()?;
                                if self.next()? != Token::Operator(")") {
                                    return Err(self.error("expected `)` in function definition"));
                                }
                                self.skip_newlines()?;
                                let body = Box::new(self.parse_command()?);
                                return Ok(Command::FunctionDefinition { line, name, body });
                            }
                            Self::push_word(&mut simple, word);
                            continue;
                        }
                    }
                    self.next()?;
                    Self::push_word(&mut simple, word);
                }
                _ => break,
            }
        }
        if simple.words.is_empty() && simple.assignments.is_empty() && simple.redirects.is_empty() {
            return Err(self.error("empty command"));
        }
        Ok(Command::Simple(simple))
    }

    fn push_word(simple: &mut SimpleCommand, word: Word) {
        if simple.words.is_empty() {
            if let Some(WordPart::Literal {
                text,
                quoted: false,
            }) = word.parts.first()
            {
                if let Some((name, value_start)) = text.split_once('=') {
                    if is_name(name) {
                        let mut value_parts = word.parts.clone();
                        if value_start.is_empty() {
                            value_parts.remove(0);
                        } else {
                            value_parts[0] = WordPart::Literal {
                                text: value_start.to_owned(),
                                quoted: false,
                            };
                        }
                        simple
                            .assignments
                            .push((name.to_owned(), Word { parts: value_parts }));
                        return;
                    }
                }
            }
        }
        simple.words.push(word);
    }

    fn parse_if(&mut self, line: usize) -> Result<Command, ShellSyntaxError> {
        self.expect_reserved("if")?;
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let condition = self.parse_list(&["then"])?;
            self.expect_reserved("then")?;
            let body = self.parse_list(&["elif", "else", "fi"])?;
            branches.push((condition, body));
            if self.at_reserved("elif")? {
                self.next()?;
                continue;
            }
            if self.at_reserved("else")? {
                self.next()?;
                otherwise = Some(self.parse_list(&["fi"])?);
            }
            self.expect_reserved("fi")?;
            break;
        }
        let mut redirects = Vec::new();
        self.parse_redirects(&mut redirects)?;
        Ok(Command::If {
            line,
            branches,
            otherwise,
            redirects,
        })
    }

    fn parse_case(&mut self, line: usize) -> Result<Command, ShellSyntaxError> {
        self.expect_reserved("case")?;
        let Token::Word(word) = self.next()? else {
            return Err(self.error("`case` without a word"));
        };
        self.skip_newlines()?;
        self.expect_reserved("in")?;
        let mut arms = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.at_reserved("esac")? {
                self.next()?;
                break;
            }
            if *self.peek()? == Token::Operator("(") {
                self.next()?;
            }
            let mut patterns = Vec::new();
            loop {
                match self.next()? {
                    Token::Word(pattern) => patterns.push(pattern),
                    other => {
                        return Err(self.error(format!(
                            "expected a case pattern, found {}",
                            describe(&other)
                        )))
                    }
                }
                match self.next()? {
                    Token::Operator("|") => {}
                    Token::Operator(")") => break,
                    other => {
                        return Err(self.error(format!(
                            "expected `)` after case pattern, found {}",
                            describe(&other)
                        )))
                    }
                }
            }
            let body = self.parse_list(&[";;", "esac"])?;
            arms.push(CaseArm { patterns, body });
            if *self.peek()? == Token::Operator(";;") {
                self.next()?;
            }
        }
        let mut redirects = Vec::new();
        self.parse_redirects(&mut redirects)?;
        Ok(Command::Case {
            line,
            word,
            arms,
            redirects,
        })
    }

    fn parse_for(&mut self, line: usize) -> Result<Command, ShellSyntaxError> {
        self.expect_reserved("for")?;
        let Token::Word(variable) = self.next()? else {
            return Err(self.error("`for` without a variable"));
        };
        let variable = variable.literal().unwrap_or_default();
        let mut words = None;
        self.skip_newlines()?;
        if self.at_reserved("in")? {
            self.next()?;
            let mut list = Vec::new();
            while let Token::Word(word) = self.peek()?.clone() {
                self.next()?;
                list.push(word);
            }
            words = Some(list);
        }
        if matches!(self.peek()?, Token::Operator(";") | Token::Newline) {
            self.next()?;
        }
        self.skip_newlines()?;
        self.expect_reserved("do")?;
        let body = self.parse_list(&["done"])?;
        self.expect_reserved("done")?;
        let mut redirects = Vec::new();
        self.parse_redirects(&mut redirects)?;
        Ok(Command::For {
            line,
            variable,
            words,
            body,
            redirects,
        })
    }

    fn parse_loop(&mut self, line: usize, until: bool) -> Result<Command, ShellSyntaxError> {
        self.next()?;
        let condition = self.parse_list(&["do"])?;
        self.expect_reserved("do")?;
        let body = self.parse_list(&["done"])?;
        self.expect_reserved("done")?;
        let mut redirects = Vec::new();
        self.parse_redirects(&mut redirects)?;
        Ok(Command::Loop {
            line,
            until,
            condition,
            body,
            redirects,
        })
    }
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_unquoted(word: &Word, text: &str) -> bool {
    matches!(word.parts.as_slice(), [WordPart::Literal { text: t, quoted: false }] if t == text)
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(word) => format!("`{word}`"),
        Token::DescriptorNumber(number) => format!("`{number}`"),
        Token::Operator(op) => format!("`{op}`"),
        Token::Newline => "end of line".to_owned(),
        Token::End => "end of script".to_owned(),
    }
}

/// Replaces here-document slot markers with the bodies read by the lexer.
fn fill_here_documents(list: &mut List, bodies: &[Option<String>]) {
    fn fill_redirects(redirects: &mut [Redirect], bodies: &[Option<String>]) {
        for redirect in redirects {
            if let Some(marker) = &redirect.here_document {
                if let Some(slot) = marker.strip_prefix("\u{0}slot:") {
                    let index: usize = slot.parse().unwrap_or(usize::MAX);
                    redirect.here_document = bodies.get(index).cloned().flatten();
                }
            }
        }
    }
    fn fill_command(command: &mut Command, bodies: &[Option<String>]) {
        match command {
            Command::Simple(simple) => fill_redirects(&mut simple.redirects, bodies),
            Command::If {
                branches,
                otherwise,
                redirects,
                ..
            } => {
                for (condition, body) in branches {
                    fill_here_documents(condition, bodies);
                    fill_here_documents(body, bodies);
                }
                if let Some(otherwise) = otherwise {
                    fill_here_documents(otherwise, bodies);
                }
                fill_redirects(redirects, bodies);
            }
            Command::Case {
                arms, redirects, ..
            } => {
                for arm in arms {
                    fill_here_documents(&mut arm.body, bodies);
                }
                fill_redirects(redirects, bodies);
            }
            Command::For {
                body, redirects, ..
            }
            | Command::Group {
                body, redirects, ..
            }
            | Command::Subshell {
                body, redirects, ..
            } => {
                fill_here_documents(body, bodies);
                fill_redirects(redirects, bodies);
            }
            Command::Loop {
                condition,
                body,
                redirects,
                ..
            } => {
                fill_here_documents(condition, bodies);
                fill_here_documents(body, bodies);
                fill_redirects(redirects, bodies);
            }
            Command::FunctionDefinition { body, .. } => fill_command(body, bodies),
        }
    }
    for and_or in list {
        for pipeline in
            std::iter::once(&mut and_or.first).chain(and_or.rest.iter_mut().map(|(_, p)| p))
        {
            for command in &mut pipeline.commands {
                fill_command(command, bodies);
            }
        }
    }
}

/// Parses a whole script.
pub fn parse_script(source: &str) -> Result<List, ShellSyntaxError> {
    let mut parser = Parser {
        lexer: Lexer::new(source),
        lookahead: None,
    };
    let mut list = parser.parse_list(&[])?;
    match parser.peek()? {
        Token::End => {}
        other => {
            let found = describe(&other.clone());
            return Err(parser.error(format!("unexpected {found}")));
        }
    }
    let _ = RESERVED_WORDS;
    fill_here_documents(&mut list, &parser.lexer.bodies);
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple_words(list: &List) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for and_or in list {
            for pipeline in std::iter::once(&and_or.first).chain(and_or.rest.iter().map(|(_, p)| p))
            {
                for command in &pipeline.commands {
                    if let Command::Simple(simple) = command {
                        out.push(simple.words.iter().map(ToString::to_string).collect());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn quoting_and_continuations_join_words() {
        let list = parse_script(
            "update-alternatives --install /usr/bin/pager pager \\\n  '/usr/bin/less' \"7\"7\n",
        )
        .unwrap();
        assert_eq!(
            simple_words(&list),
            vec![vec![
                "update-alternatives",
                "--install",
                "/usr/bin/pager",
                "pager",
                "/usr/bin/less",
                "77"
            ]]
        );
    }

    #[test]
    fn continuation_cannot_hide_a_command_inside_a_comment() {
        // A backslash at the end of a comment does not continue it.
        let list = parse_script("# comment \\\nrm -rf /x\n").unwrap();
        assert_eq!(simple_words(&list), vec![vec!["rm", "-rf", "/x"]]);
    }

    #[test]
    fn here_documents_are_attached_to_their_command() {
        let list = parse_script(
            "(\n while read d; do rmdir \"$d\"; done\n) << DATA\n/a\n/b\nDATA\necho after\n",
        )
        .unwrap();
        let Command::Subshell { redirects, .. } = &list[0].first.commands[0] else {
            panic!("expected subshell: {list:?}");
        };
        assert_eq!(redirects[0].here_document.as_deref(), Some("/a\n/b\n"));
        assert_eq!(
            simple_words(&list[1..].to_vec()),
            vec![vec!["echo", "after"]]
        );
    }

    #[test]
    fn tab_stripped_here_document_and_quoted_delimiter() {
        let list = parse_script("cat <<-'EOF'\n\tline $x\n\tEOF\n").unwrap();
        let Command::Simple(simple) = &list[0].first.commands[0] else {
            panic!()
        };
        assert_eq!(
            simple.redirects[0].here_document.as_deref(),
            Some("line $x\n")
        );
    }

    #[test]
    fn case_if_for_and_functions_parse() {
        let source = "set -e\nf() {\n  echo \"$1\"\n}\ncase \"$1\" in\n  configure|upgrade)\n    if [ -x /x ]; then f a; elif true; then :; else exit 1; fi\n  ;;\n  *) ;;\nesac\nfor i in a b; do echo $i; done\nwhile read a b; do :; done < /dev/null\n";
        let list = parse_script(source).unwrap();
        assert_eq!(list.len(), 5);
        assert!(matches!(
            list[1].first.commands[0],
            Command::FunctionDefinition { .. }
        ));
        assert!(matches!(list[2].first.commands[0], Command::Case { .. }));
    }

    #[test]
    fn command_substitution_and_parameters_are_parts() {
        let list = parse_script(
            "x=\"$(dpkg-divert --truename /bin/ping)\" ${DPKG_ROOT:-/}var `which a`\n",
        )
        .unwrap();
        let Command::Simple(simple) = &list[0].first.commands[0] else {
            panic!()
        };
        assert_eq!(simple.assignments[0].0, "x");
        assert!(
            matches!(&simple.assignments[0].1.parts[1], WordPart::CommandSubstitution { source, .. } if source == "dpkg-divert --truename /bin/ping")
        );
        assert!(
            matches!(&simple.words[0].parts[0], WordPart::Parameter { name, modifier: Some(m), .. } if name == "DPKG_ROOT" && m == ":-/")
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let error = parse_script("echo ok\nif true; then\n echo x\n").unwrap_err();
        assert!(error.to_string().contains("expected `fi`"), "{error}");
        let error = parse_script("echo 'open\n").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.reason.contains("unterminated single quote"));
    }
}
