//! Lists of message ids as stored: runs of consecutive ids as `[first, count]` pairs, so that
//! a queue of a hundred messages costs a few bytes instead of hundreds.
//!
//! Contract: serializes `Vec<u64>` as a list of `[first, count]` runs; reads either that or a
//! plain list of ids (records written before runs were kept).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub fn serialize<S: Serializer>(ids: &[u64], s: S) -> Result<S::Ok, S::Error> {
    let mut runs: Vec<[u64; 2]> = Vec::new();
    for &id in ids {
        match runs.last_mut() {
            Some([first, count]) if *first + *count == id => *count += 1,
            _ => runs.push([id, 1]),
        }
    }
    runs.serialize(s)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Item {
    Id(u64),
    Run([u64; 2]),
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    let items = Vec::<Item>::deserialize(d)?;
    let mut out = Vec::new();
    for item in items {
        match item {
            Item::Id(id) => out.push(id),
            Item::Run([first, count]) => {
                out.extend(first..first.saturating_add(count.min(1 << 24)))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct R {
        #[serde(with = "super")]
        ids: Vec<u64>,
    }

    #[test]
    fn runs_round_trip_and_old_plain_lists_still_read() {
        let r = R {
            ids: vec![3, 4, 5, 6, 9, 10, 20],
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"ids":[[3,4],[9,2],[20,1]]}"#);
        assert_eq!(serde_json::from_str::<R>(&json).unwrap(), r);
        let old: R = serde_json::from_str(r#"{"ids":[3,4,5]}"#).unwrap();
        assert_eq!(old.ids, vec![3, 4, 5]);
    }
}
