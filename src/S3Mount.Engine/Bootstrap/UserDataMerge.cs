using System;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Bootstrap;

/// <summary>
/// Adds a part to an existing user data document without changing what is there: a MIME multi-part document keeps its
/// bytes, boundary and line endings, and gets the part before its closing delimiter; a single document (a NodeConfig,
/// a shell script, a cloud-config, ...) becomes the first part of a new multi-part document. The document may come as
/// EC2 returns it (base64) and gzip-compressed, as nodeadm and cloud-init accept it.
/// </summary>
public static class UserDataMerge
{
    private const string Boundary = "S3MOUNT-BOOTSTRAP-PART";

    private static readonly Regex BoundaryParam = new("(?i)(?:^|;)\\s*boundary\\s*=\\s*(?:\"([^\"]*)\"|([^;\\s]+))", RegexOptions.CultureInvariant);

    /// <summary>The document with the part (built for the document's line ending, "\n" or "\r\n") added.</summary>
    public static string Append(string existing, Func<string, string> part)
    {
        if (existing is null)
        {
            throw new ArgumentNullException(nameof(existing));
        }

        var text = Decode(existing);
        if (text.Trim().Length == 0)
        {
            throw Invalid("The user data to merge with (-MergeWith) is empty.");
        }

        if (text.IndexOf("filename=\"s3mount-bootstrap.sh\"", StringComparison.Ordinal) >= 0)
        {
            throw Invalid("The user data to merge with already carries an S3Mount bootstrap part (s3mount-bootstrap.sh): merge with the document without it, so the node does not run two bootstraps.");
        }

        var nl = text.IndexOf("\r\n", StringComparison.Ordinal) >= 0 ? "\r\n" : "\n";
        var headerEnd = HeaderEnd(text, nl);
        var head = text.Substring(0, Math.Min(text.Length, 4096)).ToLowerInvariant();
        if (headerEnd > 0 && (head.Contains("mime-version:") || head.StartsWith("content-type:", StringComparison.Ordinal)))
        {
            var contentType = Header(text.Substring(0, headerEnd), "Content-Type", nl);
            if (contentType is not null && contentType.TrimStart().StartsWith("multipart/", StringComparison.OrdinalIgnoreCase))
            {
                var m = BoundaryParam.Match(contentType);
                if (!m.Success)
                {
                    throw Invalid("The user data to merge with is a multi-part MIME document without a boundary in its Content-Type: " + contentType.Trim());
                }

                var boundary = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
                var close = "--" + boundary + "--";
                var lines = text.Split(new[] { nl }, StringSplitOptions.None);
                var offset = 0;
                foreach (var line in lines)
                {
                    if (offset > headerEnd && line.TrimEnd(' ', '\t') == close)
                    {
                        return text.Substring(0, offset) + "--" + boundary + nl + part(nl) + text.Substring(offset);
                    }

                    offset += line.Length + nl.Length;
                }

                // No closing delimiter: the document was cut; the part and the closing delimiter go at its end.
                var body = text.EndsWith(nl, StringComparison.Ordinal) ? text : text + nl;
                return body + "--" + boundary + nl + part(nl) + close + nl;
            }

            // A single-part MIME message: its headers and body become the first part.
            return Wrap(text, null, part, nl);
        }

        var type = TypeOf(text) ?? throw Invalid(
            "The user data to merge with (-MergeWith) is neither a MIME multi-part document nor a type its consumers know by its first line " +
            "(#!, #cloud-config, #cloud-boothook, #include, ## template: jinja, an EKS NodeConfig). Give the whole user data, as EC2 holds it.");
        return Wrap(text, type, part, nl);
    }

    /// <summary>The content type cloud-init and nodeadm give a single user data document by its beginning, or null.</summary>
    public static string? TypeOf(string text)
    {
        var t = text.TrimStart('\uFEFF');
        if (t.StartsWith("#!", StringComparison.Ordinal))
        {
            return "text/x-shellscript";
        }

        var first = t.Split('\n')[0].TrimEnd('\r').ToLowerInvariant();
        if (first.StartsWith("#cloud-config", StringComparison.Ordinal))
        {
            return "text/cloud-config";
        }

        if (first.StartsWith("#cloud-boothook", StringComparison.Ordinal))
        {
            return "text/cloud-boothook";
        }

        if (first.StartsWith("#include", StringComparison.Ordinal))
        {
            return "text/x-include-url";
        }

        if (first.StartsWith("## template: jinja", StringComparison.Ordinal))
        {
            return "text/jinja2";
        }

        if (Regex.IsMatch(t, "(?m)^apiVersion:\\s*['\"]?node\\.eks\\.aws/", RegexOptions.CultureInvariant) && Regex.IsMatch(t, "(?m)^kind:\\s*['\"]?NodeConfig", RegexOptions.CultureInvariant))
        {
            return "application/node.eks.aws";
        }

        return null;
    }

    private static string Wrap(string text, string? type, Func<string, string> part, string nl)
    {
        var boundary = Boundary;
        for (var i = 2; text.IndexOf(boundary, StringComparison.Ordinal) >= 0; i++)
        {
            boundary = Boundary + "-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var sb = new StringBuilder();
        sb.Append("MIME-Version: 1.0").Append(nl);
        sb.Append("Content-Type: multipart/mixed; boundary=\"").Append(boundary).Append('"').Append(nl);
        sb.Append(nl);
        sb.Append("--").Append(boundary).Append(nl);
        if (type is not null)
        {
            sb.Append("Content-Type: ").Append(type).Append(nl).Append(nl);
        }

        // The line break before a boundary belongs to the boundary (RFC 2046): one more keeps the document's own last one.
        sb.Append(text);
        if (!text.EndsWith(nl, StringComparison.Ordinal))
        {
            sb.Append(nl);
        }

        sb.Append(nl);

        sb.Append("--").Append(boundary).Append(nl);
        sb.Append(part(nl));
        sb.Append("--").Append(boundary).Append("--").Append(nl);
        return sb.ToString();
    }

    // Where the header block ends (the offset of its blank line), or -1.
    private static int HeaderEnd(string text, string nl)
    {
        var i = text.IndexOf(nl + nl, StringComparison.Ordinal);
        return i < 0 ? -1 : i + nl.Length;
    }

    // An unfolded header value, or null.
    private static string? Header(string headers, string name, string nl)
    {
        var unfolded = Regex.Replace(headers, Regex.Escape(nl) + "[ \\t]+", " ");
        foreach (var line in unfolded.Split(new[] { nl }, StringSplitOptions.None))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && string.Equals(line.Substring(0, colon).Trim(), name, StringComparison.OrdinalIgnoreCase))
            {
                return line.Substring(colon + 1);
            }
        }

        return null;
    }

    // Base64 (as EC2 returns user data) and gzip are undone, as nodeadm and cloud-init do.
    private static string Decode(string value)
    {
        var compact = new string(value.Where(c => !char.IsWhiteSpace(c)).ToArray());
        if (compact.Length >= 8 && compact.Length % 4 == 0 && compact.All(c => char.IsLetterOrDigit(c) && c < 128 || c is '+' or '/' or '='))
        {
            try
            {
                var bytes = Convert.FromBase64String(compact);
                var decoded = IsGzip(bytes) ? BootstrapArtifact.Gunzip(bytes) : bytes;
                var text = new UTF8Encoding(false, true).GetString(decoded);
                if (!text.Any(c => char.IsControl(c) && c is not '\n' and not '\r' and not '\t'))
                {
                    return text;
                }
            }
            catch (FormatException)
            {
            }
            catch (ArgumentException)
            {
            }
            catch (System.IO.InvalidDataException)
            {
            }
        }

        return value;
    }

    private static bool IsGzip(byte[] b) => b.Length > 2 && b[0] == 0x1f && b[1] == 0x8b;

    private static S3MountException Invalid(string message) =>
        new(BootstrapErrorIds.UserDataInvalid, S3MountErrorKind.InvalidData, message, "MergeWith");
}
