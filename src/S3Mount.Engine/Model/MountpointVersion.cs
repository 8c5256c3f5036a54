using System;
using System.Globalization;
using System.Text.RegularExpressions;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Model;

/// <summary>
/// A mount-s3 release number. Parses both <c>mount-s3 1.23.0</c> (official build) and
/// <c>mount-s3 1.21.0+1.amzn2023</c> (distro package); the build suffix is kept but ignored in comparisons.
/// </summary>
public sealed class MountpointVersion : IComparable<MountpointVersion>, IComparable, IEquatable<MountpointVersion>
{
    private static readonly Regex Pattern = new(
        @"^(?:mount-s3\s+)?v?(?<maj>\d{1,6})\.(?<min>\d{1,6})(?:\.(?<pat>\d{1,6}))?(?<pre>-[0-9A-Za-z.-]+)?(?:\+(?<build>[0-9A-Za-z.-]+))?$",
        RegexOptions.CultureInvariant);

    public MountpointVersion(int major, int minor, int patch = 0, string? build = null)
    {
        Major = major;
        Minor = minor;
        Patch = patch;
        Build = build;
    }

    public int Major { get; }
    public int Minor { get; }
    public int Patch { get; }

    /// <summary>Distro build metadata such as <c>1.amzn2023</c>, or null.</summary>
    public string? Build { get; }

    /// <summary>The newest release S3Mount models every option of.</summary>
    public static MountpointVersion Latest { get; } = new(1, 23, 0);

    public static MountpointVersion Parse(string text)
    {
        if (TryParse(text, out var v))
        {
            return v!;
        }

        throw new S3MountException(ErrorIds.VersionInvalid, S3MountErrorKind.InvalidData,
            $"'{text}' is not a mount-s3 version. Expected the output of 'mount-s3 --version', for example 'mount-s3 1.23.0' or 'mount-s3 1.21.0+1.amzn2023'.", text);
    }

    public static bool TryParse(string? text, out MountpointVersion? version)
    {
        version = null;
        if (text is null)
        {
            return false;
        }

        var m = Pattern.Match(text.Trim());
        if (!m.Success)
        {
            return false;
        }

        version = new MountpointVersion(
            int.Parse(m.Groups["maj"].Value, CultureInfo.InvariantCulture),
            int.Parse(m.Groups["min"].Value, CultureInfo.InvariantCulture),
            m.Groups["pat"].Success ? int.Parse(m.Groups["pat"].Value, CultureInfo.InvariantCulture) : 0,
            m.Groups["build"].Success ? m.Groups["build"].Value : null);
        return true;
    }

    public int CompareTo(MountpointVersion? other)
    {
        if (other is null)
        {
            return 1;
        }

        var c = Major.CompareTo(other.Major);
        if (c == 0)
        {
            c = Minor.CompareTo(other.Minor);
        }

        return c != 0 ? c : Patch.CompareTo(other.Patch);
    }

    /// <summary>
    /// Compares with another version or with version text (<c>'1.23.0'</c>), so PowerShell's <c>-lt</c>, <c>-ge</c> and
    /// <c>Sort-Object</c> order versions as versions (1.3 before 1.21).
    /// </summary>
    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        MountpointVersion v => CompareTo(v),
        string s => CompareTo(Parse(s)),
        Version v => CompareTo(new MountpointVersion(v.Major, v.Minor, Math.Max(0, v.Build))),
        _ => throw new ArgumentException("A mount-s3 version compares with another version or with version text such as '1.23.0', not " + obj.GetType().Name + ".", nameof(obj)),
    };

    public bool Equals(MountpointVersion? other) => other is not null && CompareTo(other) == 0;

    public override bool Equals(object? obj) => obj is MountpointVersion v && Equals(v);

    public override int GetHashCode() => (Major * 1000003) ^ (Minor * 1009) ^ Patch;

    public static bool operator <(MountpointVersion a, MountpointVersion b) => a.CompareTo(b) < 0;
    public static bool operator >(MountpointVersion a, MountpointVersion b) => a.CompareTo(b) > 0;
    public static bool operator <=(MountpointVersion a, MountpointVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >=(MountpointVersion a, MountpointVersion b) => a.CompareTo(b) >= 0;

    /// <summary>The version without build metadata, e.g. <c>1.23.0</c>.</summary>
    public string Core => string.Format(CultureInfo.InvariantCulture, "{0}.{1}.{2}", Major, Minor, Patch);

    public override string ToString() => Build is null ? Core : Core + "+" + Build;
}
