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

    /// <summary>Output longer than this is not read as a result (a node's stdout is untrusted input).</summary>
    public const int MaxOutputChars = 4 * 1024 * 1024;

    /// <summary>More records than this in one block is not a result S3Mount wrote.</summary>
    public const int MaxRecords = 100_000;

    /// <summary>More fields than this in one record is not a result S3Mount wrote.</summary>
    public const int MaxFields = 256;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>True when stdout holds a whole, well-formed result block (begin and end lines).</summary>
    public static bool IsComplete(string? stdout) => TryParse(stdout, out _);

    /// <summary>Finds the last whole result block in stdout; anything printed before it is ignored. False unless it is well-formed.</summary>
    public static bool TryParse(string? stdout, out ResultBlock? block)
    {
        var reading = Read(stdout);
        block = reading.Block;
        return reading.Status == ResultBlockStatus.Complete;
    }

    /// <summary>
    /// Reads the last result block of stdout, bounded and strictly: text over <see cref="MaxOutputChars"/>, more than
    /// <see cref="MaxRecords"/> records or <see cref="MaxFields"/> fields, a malformed percent escape or bytes that are
    /// not UTF-8 make it <see cref="ResultBlockStatus.TooLarge"/> or <see cref="ResultBlockStatus.Invalid"/>, never an
    /// exception and never a partial result.
    /// </summary>
    public static ResultBlockReading Read(string? stdout)
    {
        if (string.IsNullOrEmpty(stdout))
        {
            return new ResultBlockReading(ResultBlockStatus.Missing, null, null);
        }

        if (stdout!.Length > MaxOutputChars)
        {
            return new ResultBlockReading(ResultBlockStatus.TooLarge, null,
                "the output is " + stdout.Length.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " characters, more than the " + MaxOutputChars.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " a result may have");
        }

        var begin = stdout.LastIndexOf(BeginMarker + " ", StringComparison.Ordinal);
        while (begin > 0 && stdout[begin - 1] != '\n')
        {
            begin = stdout.LastIndexOf(BeginMarker + " ", begin - 1, StringComparison.Ordinal);
        }

        if (begin < 0)
        {
            return new ResultBlockReading(ResultBlockStatus.Missing, null, null);
        }

        var lines = stdout.Substring(begin).Replace("\r\n", "\n").Split('\n');
        var end = Array.IndexOf(lines, EndMarker, 1);
        if (end < 0)
        {
            // Cut short: the last line may be cut mid-escape, so nothing after the begin line is judged.
            return new ResultBlockReading(ResultBlockStatus.Truncated, null, null);
        }

        var records = new List<ResultRecord>();
        for (var i = 1; i < end; i++)
        {
            var line = lines[i];
            if (line.Length == 0)
            {
                continue;
            }

            if (records.Count >= MaxRecords)
            {
                return new ResultBlockReading(ResultBlockStatus.TooLarge, null, "the result has more than " + MaxRecords.ToString(System.Globalization.CultureInfo.InvariantCulture) + " records");
            }

            var parts = line.Split(' ');
            if (parts.Length - 1 > MaxFields)
            {
                return new ResultBlockReading(ResultBlockStatus.TooLarge, null, "a result record has more than " + MaxFields.ToString(System.Globalization.CultureInfo.InvariantCulture) + " fields");
            }

            var fields = new string[parts.Length - 1];
            for (var f = 1; f < parts.Length; f++)
            {
                if (!TryDecodeStrict(parts[f], out var value))
                {
                    return new ResultBlockReading(ResultBlockStatus.Invalid, null, "line " + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + " of the result has a malformed percent escape or bytes that are not UTF-8");
                }

                fields[f - 1] = value;
            }

            records.Add(new ResultRecord(parts[0], fields));
        }

        return new ResultBlockReading(ResultBlockStatus.Complete, new ResultBlock(records), null);
    }

    /// <summary>Parses stdout, or explains why it cannot (cut short, no result at all, malformed, too large).</summary>
    public static ResultBlock Parse(string? stdout, object? target = null)
    {
        var reading = Read(stdout);
        return reading.Status switch
        {
            ResultBlockStatus.Complete => reading.Block!,
            ResultBlockStatus.Truncated => throw new S3MountException(Errors.SsmErrorIds.S3MountResultTruncated, S3MountErrorKind.InvalidData,
                "The node's result was cut short before its end line (SSM truncates output). Set -OutputS3BucketName so the full output can be read from S3.", target),
            ResultBlockStatus.Invalid => throw new S3MountException(Errors.SsmErrorIds.S3MountResultInvalid, S3MountErrorKind.InvalidData,
                "The node's result is not well-formed: " + reading.Problem + ". It was not written by an S3Mount script as sent.", target),
            ResultBlockStatus.TooLarge => throw new S3MountException(Errors.SsmErrorIds.S3MountResultTooLarge, S3MountErrorKind.InvalidData,
                "The node's output was not read as a result: " + reading.Problem + ".", target),
            _ => throw new S3MountException(Errors.SsmErrorIds.S3MountResultMissing, S3MountErrorKind.InvalidData,
                "The node script printed no result. Its standard error says why; run it again with -Verbose to see it.", target),
        };
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

    /// <summary>Decodes one field as <see cref="Encode"/> writes it; false for a malformed escape or bytes that are not UTF-8.</summary>
    public static bool TryDecodeStrict(string field, out string value)
    {
        value = string.Empty;
        if (field == "~")
        {
            return true;
        }

        var bytes = new byte[field.Length];
        var n = 0;
        for (var i = 0; i < field.Length; i++)
        {
            var c = field[i];
            if (c == '%')
            {
                if (i + 2 >= field.Length || !IsHex(field[i + 1]) || !IsHex(field[i + 2]))
                {
                    return false;
                }

                bytes[n++] = Convert.ToByte(field.Substring(i + 1, 2), 16);
                i += 2;
            }
            else if (c == '+')
            {
                bytes[n++] = 0x20;
            }
            else if (c > 0x20 && c < 0x7F)
            {
                bytes[n++] = (byte)c;
            }
            else
            {
                // Raw bytes outside printable ASCII are never written by Encode.
                return false;
            }
        }

        try
        {
            value = StrictUtf8.GetString(bytes, 0, n);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static bool IsHex(char c) => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// <summary>How reading a result block went.</summary>
public enum ResultBlockStatus
{
    Complete,

    /// <summary>No begin line at all.</summary>
    Missing,

    /// <summary>A begin line without its end line: cut short.</summary>
    Truncated,

    /// <summary>A malformed escape or bytes that are not UTF-8: not what an S3Mount script writes.</summary>
    Invalid,

    /// <summary>Beyond the bounds a result may have.</summary>
    TooLarge,
}

/// <summary>The outcome of <see cref="ResultBlock.Read"/>: the block when complete, else why not.</summary>
public sealed class ResultBlockReading
{
    public ResultBlockReading(ResultBlockStatus status, ResultBlock? block, string? problem)
    {
        Status = status;
        Block = block;
        Problem = problem;
    }

    public ResultBlockStatus Status { get; }
    public ResultBlock? Block { get; }
    public string? Problem { get; }
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
