using System;
using System.Globalization;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Model;

/// <summary>
/// The value of <c>--metadata-ttl</c> and <c>--negative-metadata-ttl</c>: a number of seconds, <c>indefinite</c> or <c>minimal</c>.
/// </summary>
public readonly struct MetadataTtl : IEquatable<MetadataTtl>
{
    private MetadataTtl(MetadataTtlKind kind, long seconds)
    {
        Kind = kind;
        Seconds = seconds;
    }

    public MetadataTtlKind Kind { get; }

    public long Seconds { get; }

    public static MetadataTtl Indefinite => new(MetadataTtlKind.Indefinite, 0);

    public static MetadataTtl Minimal => new(MetadataTtlKind.Minimal, 0);

    public static MetadataTtl FromSeconds(long seconds)
    {
        if (seconds < 1)
        {
            throw new S3MountException(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument,
                $"A metadata TTL of {seconds} seconds is not allowed: use a number of seconds of 1 or more, 'minimal' (0 is deprecated by mount-s3 and means minimal) or 'indefinite'.", seconds);
        }

        return new MetadataTtl(MetadataTtlKind.Seconds, seconds);
    }

    /// <summary>Parses <c>60</c>, <c>indefinite</c> or <c>minimal</c> (case-insensitive, as PowerShell users type it).</summary>
    public static MetadataTtl Parse(string text)
    {
        var t = (text ?? string.Empty).Trim();
        if (t.Equals("indefinite", StringComparison.OrdinalIgnoreCase))
        {
            return Indefinite;
        }

        if (t.Equals("minimal", StringComparison.OrdinalIgnoreCase))
        {
            return Minimal;
        }

        if (t.Length > 0 && t.Length <= 18 && long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var s))
        {
            return FromSeconds(s);
        }

        throw new S3MountException(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument,
            $"'{text}' is not a metadata TTL: use a number of seconds, 'minimal' or 'indefinite'.", text);
    }

    public static implicit operator MetadataTtl(string text) => Parse(text);

    public static implicit operator MetadataTtl(int seconds) => FromSeconds(seconds);

    public bool Equals(MetadataTtl other) => Kind == other.Kind && Seconds == other.Seconds;

    public override bool Equals(object? obj) => obj is MetadataTtl o && Equals(o);

    public override int GetHashCode() => ((int)Kind * 397) ^ Seconds.GetHashCode();

    public override string ToString() => Kind switch
    {
        MetadataTtlKind.Indefinite => "indefinite",
        MetadataTtlKind.Minimal => "minimal",
        _ => Seconds.ToString(CultureInfo.InvariantCulture),
    };
}
