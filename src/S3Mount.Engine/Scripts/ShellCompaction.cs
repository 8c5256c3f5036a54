using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace S3Mount.Engine.Scripts;

/// <summary>
/// Makes an embedded node script smaller without changing what it does: whole-line comments, blank lines and the
/// indentation of code lines go; every other character stays, in order. Lines that begin inside a quoted string (the
/// awk programs, multi-line values) are never touched, and <c>shellcheck</c> directives stay, so the result lints
/// like the original. Used where size is the limit (EC2 user data is at most 16 KB); local
/// and SSM runs use the scripts as written.
/// </summary>
public static class ShellCompaction
{
    /// <summary>The script without its whole-line comments, blank lines and indentation (directives kept).</summary>
    public static string Compact(string script)
    {
        if (script is null)
        {
            throw new ArgumentNullException(nameof(script));
        }

        var sb = new StringBuilder(script.Length);
        var open = new Stack<char>();
        var lines = script.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var last = i == lines.Length - 1;
            // Code lines, also inside a command substitution or subshell that spans lines; never inside a quoted string.
            if (!open.Any(c => c is '\'' or '"'))
            {
                var code = line.TrimStart(' ', '\t');
                if (code.Length == 0 || (code[0] == '#' && !IsDirective(code, i)))
                {
                    continue;
                }

                line = code;
            }

            Scan(line, open, i + 1);
            sb.Append(line);
            if (!last)
            {
                sb.Append('\n');
            }
        }

        if (open.Count != 0)
        {
            throw new ArgumentException("The script ends inside a quoted string or a command substitution.", nameof(script));
        }

        return sb.ToString();
    }

    /// <summary>
    /// A library (lib.sh, compacted) without the functions nothing calls: a top-level definition (<c>name() {</c> in the
    /// first column, to its closing brace in the first column or on the same line, with the shellcheck directives just
    /// above it) is dropped unless its name appears as a word in <paramref name="callers"/>, in the library's own code
    /// outside definitions, or in a definition that is kept. Every other line stays, in order. The node scripts call
    /// functions only by name (no <c>eval</c>), so a word that is never written is a function that never runs.
    /// </summary>
    public static string WithoutUnusedFunctions(string library, IEnumerable<string> callers)
    {
        if (library is null)
        {
            throw new ArgumentNullException(nameof(library));
        }

        var lines = library.Split('\n');
        var blocks = new List<(string? Name, int Start, int End)>();
        var top = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            var m = FunctionStart.Match(lines[i]);
            if (!m.Success)
            {
                continue;
            }

            var start = i;
            while (start > 0 && lines[start - 1].StartsWith("# shellcheck ", StringComparison.Ordinal))
            {
                start--;
            }

            var end = i;
            if (!OneLiner(lines[i]))
            {
                while (end < lines.Length && lines[end] != "}")
                {
                    end++;
                }

                if (end == lines.Length)
                {
                    throw new ArgumentException($"The function {m.Groups[1].Value} has no closing brace in the first column.", nameof(library));
                }
            }

            blocks.Add((m.Groups[1].Value, start, end));
            i = end;
        }

        var inBlock = new int[lines.Length];
        for (var b = 0; b < blocks.Count; b++)
        {
            for (var i = blocks[b].Start; i <= blocks[b].End; i++)
            {
                inBlock[i] = b + 1;
            }
        }

        for (var i = 0; i < lines.Length; i++)
        {
            if (inBlock[i] == 0)
            {
                top.Append(lines[i]).Append('\n');
            }
        }

        var keep = new bool[blocks.Count];
        var pending = new Queue<string>(callers.Concat(new[] { top.ToString() }));
        while (pending.Count > 0)
        {
            var text = pending.Dequeue();
            for (var b = 0; b < blocks.Count; b++)
            {
                if (!keep[b] && Regex.IsMatch(text, "(?<![A-Za-z0-9_])" + blocks[b].Name + "(?![A-Za-z0-9_])", RegexOptions.CultureInvariant))
                {
                    keep[b] = true;
                    pending.Enqueue(string.Join("\n", lines, blocks[b].Start, blocks[b].End - blocks[b].Start + 1));
                }
            }
        }

        var sb = new StringBuilder(library.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            if (inBlock[i] != 0 && !keep[inBlock[i] - 1])
            {
                continue;
            }

            sb.Append(lines[i]);
            if (i < lines.Length - 1)
            {
                sb.Append('\n');
            }
        }

        return sb.ToString();
    }

    private static readonly Regex FunctionStart = new("^([A-Za-z_][A-Za-z0-9_]*)\\(\\) *\\{", RegexOptions.CultureInvariant);

    private static bool OneLiner(string line) => line.TrimEnd().EndsWith("}", StringComparison.Ordinal) && line.Count(c => c == '{') == line.Count(c => c == '}');

    // The shebang and shellcheck directives ("# shellcheck disable=...", "# shellcheck shell=sh").
    private static bool IsDirective(string code, int index) =>
        (index == 0 && code.StartsWith("#!", StringComparison.Ordinal)) || code.StartsWith("# shellcheck ", StringComparison.Ordinal);

    /// <summary>
    /// Follows quoting through one line: <paramref name="open"/> holds what is open at its start (<c>'</c> single
    /// quotes, <c>"</c> double quotes, <c>(</c> a command substitution or subshell); what is open at its end is left in it.
    /// </summary>
    private static void Scan(string line, Stack<char> open, int number)
    {
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            var top = open.Count == 0 ? '\0' : open.Peek();
            if (top == '\'')
            {
                if (c == '\'')
                {
                    open.Pop();
                }

                continue;
            }

            if (top == '"')
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    open.Pop();
                }
                else if (c == '$' && i + 1 < line.Length && line[i + 1] == '(')
                {
                    open.Push('(');
                    i++;
                }

                continue;
            }

            switch (c)
            {
                case '\\':
                    i++;
                    break;
                case '\'':
                case '"':
                case '(':
                    open.Push(c);
                    break;
                case ')' when top == '(':
                    open.Pop();
                    break;
                case '#' when i == 0 || line[i - 1] is ' ' or '\t' or ';' or '(' or '|' or '&':
                    return; // a comment to the end of the line
                case '<' when i + 1 < line.Length && line[i + 1] == '<':
                    // A here-document would need its body left alone; the node scripts have none, and this keeps it so.
                    throw new NotSupportedException($"Line {number} starts a here-document, which compaction does not handle: {line}");
            }
        }
    }
}
