using System;
using System.Collections.Generic;
using System.Text;
using System.Text.RegularExpressions;

namespace S3Mount.Engine.Fleet;

/// <summary>
/// How a POSIX sh script travels as AWS-RunShellScript <c>commands</c>: ONE command line that base64-decodes the script
/// into a private temp file and runs it with <c>/bin/sh</c> (dash on Debian). Base64 survives any byte, quote, CR, NUL-free
/// binary or leading <c>#!</c>; a temp file (not a pipe) keeps the script's stdin free and its <c>$0</c> meaningful.
/// </summary>
public static class ScriptEncoding
{
    private static readonly Regex Payload = new("printf '%s' '([A-Za-z0-9+/=]*)' \\| base64 -d", RegexOptions.CultureInvariant);

    /// <summary>The <c>commands</c> parameter value for this script.</summary>
    public static IReadOnlyList<string> ToCommands(string script)
    {
        if (script is null)
        {
            throw new ArgumentNullException(nameof(script));
        }

        var b64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(script));
        var line =
            "f=\"$(mktemp /tmp/s3mount.XXXXXXXXXX)\" || exit 125; " +
            "if printf '%s' '" + b64 + "' | base64 -d > \"$f\"; then /bin/sh \"$f\"; rc=$?; else rc=125; fi; " +
            "rm -f \"$f\"; exit $rc";
        return new[] { line };
    }

    /// <summary>Recovers the script from commands this class produced; null when the commands are something else.</summary>
    public static string? TryDecode(IEnumerable<string> commands)
    {
        foreach (var c in commands)
        {
            var m = Payload.Match(c);
            if (m.Success)
            {
                try
                {
                    return Encoding.UTF8.GetString(Convert.FromBase64String(m.Groups[1].Value));
                }
                catch (FormatException)
                {
                    return null;
                }
            }
        }

        return null;
    }
}
