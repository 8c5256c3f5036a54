using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace S3Mount.Engine.Units;

/// <summary>
/// Quoting and escaping for unit files, after systemd.syntax(7), systemd.service(5) "Command lines" and systemd.unit(5) "Specifiers".
/// </summary>
public static class SystemdSyntax
{
    /// <summary>
    /// Quotes one word of an <c>Exec*=</c> line so systemd hands the process exactly <paramref name="arg"/>:
    /// plain when safe; otherwise double quotes with <c>\\</c>, <c>\"</c> escaped, and <c>%%</c>, <c>$$</c> for specifiers and variables.
    /// </summary>
    public static string QuoteExecArg(string arg)
    {
        if (arg.Length > 0 && IsPlain(arg))
        {
            return arg;
        }

        var sb = new StringBuilder(arg.Length + 2).Append('"');
        foreach (var c in arg)
        {
            sb.Append(c switch
            {
                '\\' => "\\\\",
                '"' => "\\\"",
                '%' => "%%",
                '$' => "$$",
                _ => c.ToString(),
            });
        }

        return sb.Append('"').ToString();
    }

    /// <summary>Quotes a whole <c>Environment=</c> assignment (no variable expansion there, specifiers yes).</summary>
    public static string QuoteEnvironment(string assignment)
    {
        var sb = new StringBuilder(assignment.Length + 2).Append('"');
        foreach (var c in assignment)
        {
            sb.Append(c switch
            {
                '\\' => "\\\\",
                '"' => "\\\"",
                '%' => "%%",
                _ => c.ToString(),
            });
        }

        return sb.Append('"').ToString();
    }

    /// <summary>Escapes a value systemd only runs specifier expansion on (<c>Description=</c>, <c>AssertPathIsDirectory=</c>).</summary>
    public static string EscapeSpecifiers(string value) => value.Replace("%", "%%");

    /// <summary>
    /// Splits an <c>Exec*=</c> value into words the way systemd does: quotes, C escapes, <c>%%</c> and <c>$$</c>.
    /// Leading command prefixes (<c>-@:+!</c>) are returned separately.
    /// </summary>
    public static (string Prefixes, IReadOnlyList<string> Words) SplitExec(string value) => Split(value, exec: true);

    /// <summary>Splits an <c>Environment=</c> value into its assignments (quotes and C escapes; <c>$</c> is literal there).</summary>
    public static IReadOnlyList<string> SplitEnvironment(string value) => Split(value, exec: false).Words;

    private static (string Prefixes, IReadOnlyList<string> Words) Split(string value, bool exec)
    {
        var i = 0;
        while (i < value.Length && char.IsWhiteSpace(value[i]))
        {
            i++;
        }

        var prefixStart = i;
        while (exec && i < value.Length && "-@:+!".IndexOf(value[i]) >= 0)
        {
            i++;
        }

        var prefixes = value.Substring(prefixStart, i - prefixStart);
        var words = new List<string>();
        while (true)
        {
            while (i < value.Length && char.IsWhiteSpace(value[i]))
            {
                i++;
            }

            if (i >= value.Length)
            {
                break;
            }

            var sb = new StringBuilder();
            char quote = '\0';
            for (; i < value.Length; i++)
            {
                var c = value[i];
                if (quote == '\0' && char.IsWhiteSpace(c))
                {
                    break;
                }

                if (quote == '\0' && (c == '"' || c == '\''))
                {
                    quote = c;
                    continue;
                }

                if (quote != '\0' && c == quote)
                {
                    quote = '\0';
                    continue;
                }

                if (c == '\\' && i + 1 < value.Length)
                {
                    i = Unescape(value, i, sb);
                    continue;
                }

                if ((c == '%' || (exec && c == '$')) && i + 1 < value.Length && value[i + 1] == c)
                {
                    sb.Append(c);
                    i++;
                    continue;
                }

                sb.Append(c);
            }

            words.Add(sb.ToString());
        }

        return (prefixes, words);
    }

    private static bool IsPlain(string arg)
    {
        foreach (var c in arg)
        {
            var ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "_./:@+,=-".IndexOf(c) >= 0;
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    // C-style escapes systemd accepts in command lines; returns the index of the last character consumed.
    private static int Unescape(string s, int i, StringBuilder sb)
    {
        var n = s[i + 1];
        switch (n)
        {
            case 'a': sb.Append('\a'); return i + 1;
            case 'b': sb.Append('\b'); return i + 1;
            case 'f': sb.Append('\f'); return i + 1;
            case 'n': sb.Append('\n'); return i + 1;
            case 'r': sb.Append('\r'); return i + 1;
            case 't': sb.Append('\t'); return i + 1;
            case 'v': sb.Append('\v'); return i + 1;
            case 's': sb.Append(' '); return i + 1;
            case 'x' when i + 3 < s.Length:
                sb.Append((char)int.Parse(s.Substring(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                return i + 3;
            case 'u' when i + 5 < s.Length:
                sb.Append((char)int.Parse(s.Substring(i + 2, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                return i + 5;
            default:
                sb.Append(n);
                return i + 1;
        }
    }
}
