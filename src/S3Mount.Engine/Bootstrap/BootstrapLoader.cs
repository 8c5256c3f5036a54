using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;
using S3Mount.Engine.Model;
using S3Mount.Engine.Scripts;

namespace S3Mount.Engine.Bootstrap;

/// <summary>
/// The user data of a bootstrap that does not fit EC2's 16,384 bytes: a small POSIX sh script that downloads the
/// bootstrap script from where the export put it (<c>-ScriptUri</c>: s3://, signed with the node's instance role, or
/// https://), runs it only when its SHA-256 is the one pinned at export, keeps it at <see cref="BootstrapScript.NodePath"/>,
/// and exits with its status. The steps are the bootstrap's, unchanged: the loader only carries them. See
/// <c>Scripts/sh/loader.sh</c>.
/// </summary>
public sealed class BootstrapLoader
{
    /// <summary>Where the CloudConfig format puts the loader on the node (root only).</summary>
    public const string NodePath = "/var/lib/s3mount/bootstrap-loader.sh";

    private BootstrapLoader(string scriptUri, string url, string? region, string text, IReadOnlyList<string> description)
    {
        ScriptUri = scriptUri;
        Url = url;
        Region = region;
        Text = text;
        Description = description;
    }

    /// <summary>Where the script is, as the user gave it.</summary>
    public string ScriptUri { get; }

    /// <summary>What the node fetches (for s3://, the S3 REST URL of the object).</summary>
    public string Url { get; }

    /// <summary>The Region the download is signed for (s3:// only; null for https://).</summary>
    public string? Region { get; }

    /// <summary>The loader, starting with <c>#!/bin/sh</c>.</summary>
    public string Text { get; }

    /// <summary>What it does: the download, then the script's steps.</summary>
    public IReadOnlyList<string> Description { get; }

    public override string ToString() => Text;

    /// <summary>
    /// The loader of <paramref name="script"/> at <paramref name="scriptUri"/>. An s3:// location needs the Region of its
    /// bucket (<paramref name="region"/>); <paramref name="endpointUrl"/> (an S3 endpoint: a VPC endpoint, a test server)
    /// makes the download path-style there. Bad locations throw <c>S3MountScriptUriInvalid</c>.
    /// </summary>
    public static BootstrapLoader For(BootstrapScript script, string scriptUri, string? region = null, string? endpointUrl = null)
    {
        if (script is null)
        {
            throw new ArgumentNullException(nameof(script));
        }

        return For(script.Text, script.Description, scriptUri, region, endpointUrl);
    }

    // The loader of any script text (the tests pin harmless ones).
    internal static BootstrapLoader For(string scriptText, IReadOnlyList<string> steps, string scriptUri, string? region, string? endpointUrl)
    {
        var (url, signedRegion) = Locate(scriptUri, region, endpointUrl);
        var bytes = new UTF8Encoding(false).GetBytes(scriptText);
        var sha = BootstrapArtifact.Sha256Hex(bytes);

        var description = new[] { "download " + scriptUri + " (SHA-256 " + sha.Substring(0, 12) + "...), then run it:" }
            .Concat(steps.Select(d => "  " + d)).ToList();
        var version = typeof(BootstrapLoader).Assembly.GetName().Version?.ToString(3);
        var sb = new StringBuilder();
        sb.Append("#!/bin/sh\n");
        sb.Append("# shellcheck disable=SC2016 # values are single-quoted on purpose: nothing in them expands\n");
        sb.Append("# S3Mount ").Append(version).Append(" bootstrap loader (Export-S3MountBootstrap -ScriptUri): run it as root with /bin/sh. It\n");
        sb.Append("# downloads the bootstrap script, runs it only if its SHA-256 is the one below, and exits with its status. The script:\n");
        foreach (var d in steps)
        {
            sb.Append("#   ").Append(d).Append('\n');
        }

        if (signedRegion is not null)
        {
            sb.Append("# The download is signed with AWS_* credentials in the environment or the instance role, which needs s3:GetObject on it.\n");
        }

        sb.Append("set -u\n");
        sb.Append("umask 022\n");
        foreach (var (name, value) in new[]
                 {
                     ("S3L_URI", scriptUri), ("S3L_URL", url), ("S3L_REGION", signedRegion ?? string.Empty), ("S3L_SHA256", sha),
                     ("S3L_SIZE", bytes.Length.ToString(CultureInfo.InvariantCulture)), ("S3L_SAVE", BootstrapScript.NodePath),
                 })
        {
            sb.Append(name).Append('=').Append(NodeScript.ShellQuote(value)).Append('\n');
        }

        sb.Append(ShellCompaction.Compact(NodeScript.Source("loader"))).Append('\n');
        return new BootstrapLoader(scriptUri, url, signedRegion, sb.ToString(), description);
    }

    // The URL the node fetches, and the Region it signs for (null: not signed).
    private static (string Url, string? Region) Locate(string? scriptUri, string? region, string? endpointUrl)
    {
        if (string.IsNullOrEmpty(scriptUri) || TextRules.HasControlCharacter(scriptUri!))
        {
            throw Invalid(scriptUri, "it is empty or holds control characters");
        }

        if (scriptUri!.StartsWith("s3://", StringComparison.Ordinal))
        {
            var (bucket, key) = ParseS3(scriptUri);
            if (string.IsNullOrEmpty(region) || !SpecValidator.RegionPattern.IsMatch(region))
            {
                throw new S3MountException(BootstrapErrorIds.ScriptUriInvalid, S3MountErrorKind.InvalidArgument,
                    $"The nodes sign their download of {scriptUri} for its bucket's Region, and {(string.IsNullOrEmpty(region) ? "none is known" : "'" + region + "' is not one")}: give -Region (such as us-east-1), or set $StoredAWSRegion or AWS_REGION.", scriptUri);
            }

            var path = Encode(key);
            if (!string.IsNullOrEmpty(endpointUrl))
            {
                if (!Uri.TryCreate(endpointUrl, UriKind.Absolute, out var e) || !(e.Scheme == "https" || IsLoopbackHttp(endpointUrl!)) || !string.IsNullOrEmpty(e.Query))
                {
                    throw Invalid(endpointUrl, "-EndpointUrl must be an https:// S3 endpoint (http only on 127.0.0.1, for tests)");
                }

                return (endpointUrl!.TrimEnd('/') + "/" + bucket + "/" + path, region);
            }

            var suffix = region!.StartsWith("cn-", StringComparison.Ordinal) ? "amazonaws.com.cn" : "amazonaws.com";

            // A bucket with dots does not match the TLS certificate of virtual-hosted style: path style for those.
            return (bucket.IndexOf('.') >= 0
                ? "https://s3." + region + "." + suffix + "/" + bucket + "/" + path
                : "https://" + bucket + ".s3." + region + "." + suffix + "/" + path, region);
        }

        if ((scriptUri.StartsWith("https://", StringComparison.Ordinal) || IsLoopbackHttp(scriptUri))
            && scriptUri.IndexOf(' ') < 0 && Uri.TryCreate(scriptUri, UriKind.Absolute, out var u) && u.Host.Length > 0 && u.AbsolutePath.Length > 1 && string.IsNullOrEmpty(u.UserInfo))
        {
            return (scriptUri, null);
        }

        throw Invalid(scriptUri, "give s3://bucket/path/bootstrap.sh (signed with the nodes' instance role) or an https:// URL the nodes can reach");
    }

    private static (string Bucket, string Key) ParseS3(string uri)
    {
        try
        {
            return S3PackagePresigner.ParseS3Uri(uri);
        }
        catch (S3MountException)
        {
            throw Invalid(uri, "give s3://bucket/path/bootstrap.sh, a bucket name and an object key");
        }
    }

    private static bool IsLoopbackHttp(string url) =>
        url.StartsWith("http://127.0.0.1/", StringComparison.Ordinal) || url.StartsWith("http://127.0.0.1:", StringComparison.Ordinal);

    // S3's canonical URI: every byte of the key's UTF-8 but the unreserved characters and '/' percent-encoded, upper case.
    private static string Encode(string key)
    {
        var sb = new StringBuilder();
        foreach (var b in new UTF8Encoding(false).GetBytes(key))
        {
            var c = (char)b;
            if (c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.' or '_' or '~' or '/')
            {
                sb.Append(c);
            }
            else
            {
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    private static S3MountException Invalid(string? uri, string why) =>
        new(BootstrapErrorIds.ScriptUriInvalid, S3MountErrorKind.InvalidArgument, $"'{uri}' is not where the nodes can download the bootstrap script from: {why}.", uri);
}
