//! The function table. Names and parameters follow MemGPT exactly, because prompts and models
//! written for MemGPT expect them; the descriptions are memscope's own.

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PType {
    Str,
    Int,
    Bool,
}

impl PType {
    pub fn json_name(self) -> &'static str {
        match self {
            PType::Str => "string",
            PType::Int => "integer",
            PType::Bool => "boolean",
        }
    }
}

#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub ty: PType,
    pub required: bool,
    pub description: &'static str,
}

#[derive(Debug)]
pub struct FunctionSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub params: &'static [Param],
}

impl FunctionSpec {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

const HEARTBEAT: Param = Param {
    name: "request_heartbeat",
    ty: PType::Bool,
    required: true,
    description: "true to get another turn right after this function returns (to chain calls); \
                  false to wait for the user.",
};

const PAGE: Param = Param {
    name: "page",
    ty: PType::Int,
    required: false,
    description: "Which page of results to return, 0 for the first (5 results a page).",
};

pub const FUNCTIONS: &[FunctionSpec] = &[
    FunctionSpec {
        name: "send_message",
        description: "Send a message to the user. This is the only way the user sees anything you say.",
        params: &[Param {
            name: "message",
            ty: PType::Str,
            required: true,
            description: "The message text, as the user should read it.",
        }],
    },
    FunctionSpec {
        name: "pause_heartbeats",
        description: "Stop heartbeat requests from waking you for a while; function calls will not \
                      chain until the pause ends. Ends your turn.",
        params: &[Param {
            name: "minutes",
            ty: PType::Int,
            required: true,
            description: "How many minutes to pause heartbeats for (at most 360).",
        }],
    },
    FunctionSpec {
        name: "core_memory_append",
        description: "Add a line to the end of a core memory block.",
        params: &[
            Param {
                name: "name",
                ty: PType::Str,
                required: true,
                description: "Label of the block to edit, e.g. 'persona' or 'human'.",
            },
            Param {
                name: "content",
                ty: PType::Str,
                required: true,
                description: "Text to add. The block must stay within its character limit.",
            },
            HEARTBEAT,
        ],
    },
    FunctionSpec {
        name: "core_memory_replace",
        description: "Replace text in a core memory block. To delete text, pass an empty new_content.",
        params: &[
            Param {
                name: "name",
                ty: PType::Str,
                required: true,
                description: "Label of the block to edit, e.g. 'persona' or 'human'.",
            },
            Param {
                name: "old_content",
                ty: PType::Str,
                required: true,
                description: "Text to replace; must appear in the block exactly as written.",
            },
            Param {
                name: "new_content",
                ty: PType::Str,
                required: true,
                description: "Replacement text.",
            },
            HEARTBEAT,
        ],
    },
    FunctionSpec {
        name: "conversation_search",
        description: "Search the whole conversation history (recall memory), including messages \
                      no longer in view, by words.",
        params: &[
            Param {
                name: "query",
                ty: PType::Str,
                required: true,
                description: "Words to look for.",
            },
            PAGE,
            HEARTBEAT,
        ],
    },
    FunctionSpec {
        name: "conversation_search_date",
        description: "List conversation history (recall memory) between two dates, inclusive.",
        params: &[
            Param {
                name: "start_date",
                ty: PType::Str,
                required: true,
                description: "First day, as YYYY-MM-DD.",
            },
            Param {
                name: "end_date",
                ty: PType::Str,
                required: true,
                description: "Last day, as YYYY-MM-DD.",
            },
            PAGE,
            HEARTBEAT,
        ],
    },
    FunctionSpec {
        name: "archival_memory_insert",
        description: "Save text to archival memory, your long-term store. Write it so it can be \
                      found and understood later on its own.",
        params: &[
            Param {
                name: "content",
                ty: PType::Str,
                required: true,
                description: "Text to save.",
            },
            HEARTBEAT,
        ],
    },
    FunctionSpec {
        name: "archival_memory_search",
        description: "Search archival memory by meaning; results are ranked best first.",
        params: &[
            Param {
                name: "query",
                ty: PType::Str,
                required: true,
                description: "What to look for.",
            },
            PAGE,
            HEARTBEAT,
        ],
    },
];

pub fn find(name: &str) -> Option<&'static FunctionSpec> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

pub fn names() -> String {
    FUNCTIONS
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `tools` array of a chat-completions request.
pub fn tools_json() -> Value {
    Value::Array(
        FUNCTIONS
            .iter()
            .map(|f| {
                let mut props = Map::new();
                for p in f.params {
                    props.insert(
                        p.name.to_string(),
                        json!({"type": p.ty.json_name(), "description": p.description}),
                    );
                }
                let required: Vec<&str> = f
                    .params
                    .iter()
                    .filter(|p| p.required)
                    .map(|p| p.name)
                    .collect();
                json!({
                    "type": "function",
                    "function": {
                        "name": f.name,
                        "description": f.description,
                        "parameters": {
                            "type": "object",
                            "properties": props,
                            "required": required,
                        }
                    }
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heartbeat_required_everywhere_but_two() {
        for f in FUNCTIONS {
            let has = f.param("request_heartbeat").is_some_and(|p| p.required);
            let exempt = matches!(f.name, "send_message" | "pause_heartbeats");
            assert_eq!(has, !exempt, "{}", f.name);
        }
        assert_eq!(tools_json().as_array().unwrap().len(), 8);
    }
}
