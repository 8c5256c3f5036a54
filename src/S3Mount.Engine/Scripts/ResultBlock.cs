using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Scripts;

/// <summary>
/// The machine-readable result a node script prints last on stdout, identical whichever transport carried it
/// (local /bin/sh, SSM Run Command, a printed bootstrap script):
/// <code>
/// S3MOUNT-RESULT 1
/// TAG FIELD FIELD ...
/// S3MOUNT-END
/// </code>
/// Every field is percent-encoded over its UTF-8 bytes (anything outside 0x21-0x7E, plus <c>%</c>, <c>+</c> and <c>~</c>),
/// except that a space is <c>+</c>; an empty field is a lone <c>~</c>. So any byte of a path or value survives, and lines never break.
/// A block without its end line was cut short (SSM truncates output).
/// </summary>
public sealed class ResultBlock
{
    public const string BeginMarker = "S3MOUNT-RESULT";
    public const string EndMarker = "S3MOUNT-END";
    public const int FormatVersion = 1;

    public ResultBlock(IEnumerable<ResultRecord> records) => Records = records.ToList();

    public IReadOnlyList<ResultRecord> Records { get; }

    /// <summary>The records with this tag, in order.</summary>
    public IEnumerable<ResultRecord> All(string tag) => Records.Where(r => r.Tag == tag);

    /// <summary>The first record with this tag, or null.</summary>
    public ResultRecord? First(string tag) => Records.FirstOrDefault(r => r.Tag == tag);

    /// <summary>True when stdout holds a whole result block (begin and end lines).</summary>
    public static bool IsComplete(string? stdout) => TryParse(stdout, out _);

    /// <summary>Finds the last whole result block in stdout; anything printed before it is ignored.</summary>
    public static bool TryParse(string? stdout, out ResultBlock? block)
    {
        block = null;
        if (string.IsNullOrEmpty(stdout))
        {
            return false;
        }

        var lines = stdout!.Replace("\r\n", "\n").Split('\n');
        var begin = -1;
        for (var i = lines.Length - 1; i >= 0; i--)
        {
            if (lines[i].StartsWith(BeginMarker + " ", StringComparison.Ordinal))
            {
                begin = i;
                break;
            }
        }

        if (begin < 0)
        {
            return false;
        }

        var records = new List<ResultRecord>();
        for (var i = begin + 1; i < lines.Length; i++)
        {
            if (lines[i] == EndMarker)
            {
                block = new ResultBlock(records);
                return true;
            }

            if (lines[i].Length == 0)
            {
                continue;
            }

            var parts = lines[i].Split(' ');
            records.Add(new ResultRecord(parts[0], parts.Skip(1).Select(Decode).ToArray()));
        }

        return false;
    }

    /// <summary>Parses stdout, or explains why it cannot (cut short, or no result at all).</summary>
    public static ResultBlock Parse(string? stdout, object? target = null)
    {
        if (TryParse(stdout, out var block))
        {
            return block!;
        }

        var cut = stdout is not null && stdout.Contains(BeginMarker + " ");
        throw new S3MountException(cut ? "S3MountResultTruncated" : "S3MountResultMissing", S3MountErrorKind.InvalidData,
            cut
                ? "The node's result was cut short before its end line (SSM truncates output). Set -OutputS3BucketName so the full output can be read from S3."
                : "The node script printed no result. Its standard error says why; run it again with -Verbose to see it.",
            target);
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(BeginMarker).Append(' ').Append(FormatVersion).Append('\n');
        foreach (var r in Records)
        {
            sb.Append(r.Tag);
            foreach (var f in r.Fields)
            {
                sb.Append(' ').Append(Encode(f));
            }

            sb.Append('\n');
        }

        return sb.Append(EndMarker).Append('\n').ToString();
    }

    public static string Encode(string value)
    {
        if (value.Length == 0)
        {
            return "~";
        }

        var sb = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            if (b > 0x20 && b < 0x7F && b != (byte)'%' && b != (byte)'~' && b != (byte)'+')
            {
                sb.Append((char)b);
            }
            else if (b == 0x20)
            {
                sb.Append('+');
            }
            else
            {
                sb.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    public static string Decode(string field)
    {
        if (field == "~")
        {
            return string.Empty;
        }

        var bytes = new List<byte>(field.Length);
        var run = 0;
        for (var i = 0; i <= field.Length; i++)
        {
            var escape = i < field.Length && field[i] == '%' && i + 2 < field.Length && IsHex(field[i + 1]) && IsHex(field[i + 2]);
            var space = i < field.Length && field[i] == '+';
            if (i == field.Length || escape || space)
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field.Substring(run, i - run)));
                if (escape)
                {
                    bytes.Add(Convert.ToByte(field.Substring(i + 1, 2), 16));
                    i += 2;
                }
                else if (space)
                {
                    bytes.Add(0x20);
                }

                run = i + 1;
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsHex(char c) => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// <summary>One line of a <see cref="ResultBlock"/>: a tag and decoded fields.</summary>
public sealed class ResultRecord
{
    public ResultRecord(string tag, params string[] fields)
    {
        Tag = tag;
        Fields = fields;
    }

    public string Tag { get; }

    public IReadOnlyList<string> Fields { get; }

    public string this[int index] => index < Fields.Count ? Fields[index] : string.Empty;

    public override string ToString() => Tag + " " + string.Join(" ", Fields);
}
