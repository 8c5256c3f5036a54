using System.Globalization;
using System.Linq;
using System.Text;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Model;

/// <summary>Rules every field shares: no control characters, no broken UTF-16.</summary>
public static class TextRules
{
    /// <summary>True for C0/C1 controls, DEL, line/paragraph separators and lone surrogates.</summary>
    public static bool HasControlCharacter(string? value)
    {
        if (value is null)
        {
            return false;
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsControl(c) || c == '\u2028' || c == '\u2029')
            {
                return true;
            }

            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1]))
                {
                    return true;
                }

                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Throws <c>S3MountControlCharacter</c> when the value holds a control character.</summary>
    public static void EnsureNoControl(string? value, string what)
    {
        if (HasControlCharacter(value))
        {
            throw new S3MountException(ErrorIds.ControlCharacter, S3MountErrorKind.InvalidArgument,
                $"{what} contains a control character (such as a newline or tab) at position {FirstControl(value!) + 1}: '{Visible(value!)}'. Control characters are refused because they would break the systemd unit.",
                value);
        }
    }

    /// <summary>Shows control characters as <c>\n</c>, <c>\x1b</c>... so messages stay on one line.</summary>
    public static string Visible(string value)
    {
        var sb = new StringBuilder();
        foreach (var c in value)
        {
            sb.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) || char.IsSurrogate(c) || c == '\u2028' || c == '\u2029' => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        }

        return sb.ToString();
    }

    private static int FirstControl(string value) =>
        Enumerable.Range(0, value.Length).FirstOrDefault(i => HasControlCharacter(value[i].ToString()) && !(char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])));
}
