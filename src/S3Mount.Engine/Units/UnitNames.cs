using System;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Units;

/// <summary>Unit naming, identical to the field recipe's <c>mount.sh</c> so fleets keep their existing unit names.</summary>
public static class UnitNames
{
    public const string Prefix = "mountpoint-s3-";
    public const string Suffix = ".service";

    private static readonly Regex NamePattern = new("^mountpoint-s3-[A-Za-z0-9_.@:-]{1,200}\\.service$", RegexOptions.CultureInvariant);

    /// <summary>
    /// <c>mountpoint-s3-</c> + the first 8 lowercase hex characters of MD5 over the UTF-8 bytes of <c>BUCKET:PATH</c> + <c>.service</c>.
    /// <c>my-bucket:/mnt/s3</c> gives <c>mountpoint-s3-17a82347.service</c>. Pass the normalised path.
    /// </summary>
    public static string For(string bucket, string path)
    {
        using var md5 = MD5.Create();
        var hash = md5.ComputeHash(Encoding.UTF8.GetBytes(bucket + ":" + path));
        var sb = new StringBuilder(Prefix);
        for (var i = 0; i < 4; i++)
        {
            sb.Append(hash[i].ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        }

        return sb.Append(Suffix).ToString();
    }

    /// <summary>True for a name S3Mount lists and manages (<c>mountpoint-s3-*.service</c>, no path characters).</summary>
    public static bool IsMountUnit(string name) => NamePattern.IsMatch(name);

    /// <summary>Accepts <c>mountpoint-s3-17a82347</c> or the full file name; refuses anything else.</summary>
    public static string Normalize(string name)
    {
        Model.TextRules.EnsureNoControl(name, "The service name");
        var n = name.EndsWith(Suffix, StringComparison.Ordinal) ? name : name + Suffix;
        if (!IsMountUnit(n))
        {
            throw new S3MountException(ErrorIds.NameInvalid, S3MountErrorKind.InvalidArgument,
                $"'{name}' is not a mount service name: expected mountpoint-s3-<id>.service, as Get-S3MountService lists them.", name);
        }

        return n;
    }
}
