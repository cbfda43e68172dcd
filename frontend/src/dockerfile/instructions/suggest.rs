//! "Did you mean": the closest known word to a misspelt keyword or flag.

/// The closest option within an edit distance of 2, as BuildKit suggests.
pub(super) fn suggest<'a>(input: &str, options: &[&'a str]) -> Option<&'a str> {
    options
        .iter()
        .map(|option| (edit_distance(input, option), *option))
        .filter(|(distance, _)| *distance < 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, option)| option)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("COPPY", "COPY"), 1);
        assert_eq!(edit_distance("", "RUN"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
