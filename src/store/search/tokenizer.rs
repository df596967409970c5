//! The search terms of [`crate::memory::search::terms`] as a tantivy tokenizer, so the
//! persistent index and the in-memory one cut text the same way.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The name the tokenizer is registered under in every index.
pub const NAME: &str = "memscope";

#[derive(Clone, Default)]
pub struct Terms;

pub struct Stream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for Terms {
    type TokenStream<'a> = Stream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Stream {
        let tokens = crate::memory::search::terms(text)
            .into_iter()
            .enumerate()
            .map(|(position, text)| Token {
                position,
                text,
                position_length: 1,
                ..Token::default()
            })
            .collect();
        Stream { tokens, next: 0 }
    }
}

impl TokenStream for Stream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}
