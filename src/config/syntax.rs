//! The `--config` file's syntax: `name = value` lines turned into the flags they stand for,
//! which the command line's parser then reads as if they were given there.

use super::{Files, flags};

/// For each value a config file gave: how an error about it begins, and its line.
pub(super) type ValueLines = Vec<(String, usize)>;

/// `--config FILE` as flags: `name = value` per line (`name` alone, or `= yes`, for a flag
/// without a value; `= no` leaves it out; `1` and `0` as UCI writes them), `#` comments,
/// blank lines. A setting that takes a list (`allow = CIDR,...`) may be given on several
/// lines, which add up, as UCI's `list` does; a repeatable one (`listen`) gives one flag a
/// line; any other may be given once. A setting the command line also gives is left out
/// (for repeatable ones such as listen, all of the file's). Returns the flags and, per
/// value, how an error about it begins and its line.
pub(super) fn read_config(
    file: &std::path::Path,
    cmdline: &flags::Matches,
    files: &mut Files,
) -> Result<(Vec<String>, ValueLines), String> {
    use flags::Setting;
    let f = file.display();
    let text = files
        .read_text(file)
        .map_err(|e| format!("--config {f}: {e}"))?;
    let mut args: Vec<String> = Vec::new();
    let mut lines: ValueLines = Vec::new();
    // Where each value of a setting given once, or of a list, is in `args`, and its line.
    let mut seen: Vec<(&str, usize, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
            None => (line, None),
        };
        let setting = flags::setting(name)
            .filter(|_| !matches!(name, "config" | "help" | "version" | "check"))
            .ok_or_else(|| {
                format!("{f}:{n}: unknown setting {name} (edgeftpd --help lists them)")
            })?;
        if cmdline.opt_present(name) {
            continue;
        }
        match (setting, value) {
            (Setting::Flag, None | Some("yes" | "true" | "on" | "1")) => {
                args.push(format!("--{name}"))
            }
            (Setting::Flag, Some("no" | "false" | "off" | "0")) => {}
            (Setting::Flag, Some(v)) => {
                return Err(format!("{f}:{n}: {name} = {v}: expected yes or no"));
            }
            (_, Some(v)) if !v.is_empty() => {
                match seen.iter().find(|(s, _, _)| *s == name) {
                    Some(&(_, at, _)) if setting == Setting::List => {
                        args[at].push(',');
                        args[at].push_str(v);
                        continue;
                    }
                    Some(&(_, _, first)) => {
                        return Err(format!(
                            "{f}:{n}: {name} is given again (first at line {first}); it takes one value"
                        ));
                    }
                    None if setting != Setting::Repeat => seen.push((name, args.len() + 1, n)),
                    None => {}
                }
                args.push(format!("--{name}"));
                args.push(v.to_string());
                // How an error about this value begins (see `parse`).
                lines.push((format!("--{name} {v}"), n));
            }
            _ => return Err(format!("{f}:{n}: {name} needs a value ({name} = ...)")),
        }
    }
    // A list's error names its first line and the whole list.
    for &(name, at, n) in &seen {
        if let Some(l) = lines.iter_mut().find(|(_, line)| *line == n) {
            l.0 = format!("--{name} {}", args[at]);
        }
    }
    Ok((args, lines))
}
