using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Bootstrap;

/// <summary>The forms a bootstrap is exported in.</summary>
public enum BootstrapFormat
{
    /// <summary>The script itself: plain <c>#!/bin/sh</c> user data, a ParallelCluster action, an image's first-boot unit.</summary>
    Shell,

    /// <summary><c>#cloud-config</c> that writes the script to <see cref="BootstrapScript.NodePath"/> and runs it once.</summary>
    CloudConfig,

    /// <summary>A <c>multipart/mixed</c> user data document with the script as a part; keeps the parts of an existing document.</summary>
    Mime,

    /// <summary>The script, for S3, and the <c>CustomActions: OnNodeConfigured:</c> configuration that runs it.</summary>
    ParallelCluster,
}

/// <summary>A bootstrap in one of its formats, as bytes ready to be user data, a file, or an S3 object.</summary>
public sealed class BootstrapArtifact
{
    /// <summary>EC2 takes at most this many bytes of user data (before base64).</summary>
    public const int UserDataLimit = 16384;

    private const string MimeBoundary = "S3MOUNT-BOOTSTRAP-PART";

    private BootstrapArtifact(BootstrapFormat format, BootstrapScript script, byte[] bytes, bool compressed, string? configuration, BootstrapLoader? loader)
    {
        Format = format;
        Script = script;
        Bytes = bytes;
        Compressed = compressed;
        Configuration = configuration;
        Loader = loader;
    }

    public BootstrapFormat Format { get; }

    public BootstrapScript Script { get; }

    /// <summary>The artifact: the document (or, for ParallelCluster, the script), gzip-compressed when <see cref="Compressed"/>.</summary>
    public byte[] Bytes { get; }

    public bool Compressed { get; }

    /// <summary>The text of the artifact (UTF-8), or null when it is compressed.</summary>
    public string? Text => Compressed ? null : new UTF8Encoding(false).GetString(Bytes);

    /// <summary>ParallelCluster only: the cluster configuration keys that run the script.</summary>
    public string? Configuration { get; }

    /// <summary>
    /// Shell, CloudConfig and Mime with a script location: the loader the document carries instead of the script (it
    /// downloads <see cref="ScriptBytes"/> from there, checks their SHA-256 and runs them); null otherwise.
    /// </summary>
    public BootstrapLoader? Loader { get; }

    /// <summary>The bootstrap script as the nodes run it: what goes to the script location of a loader or a ParallelCluster action.</summary>
    public byte[] ScriptBytes => Utf8(Script.Text);

    /// <summary>True for the formats that are EC2 user data (and so held to <see cref="UserDataLimit"/>).</summary>
    public bool IsUserData => Format is BootstrapFormat.CloudConfig or BootstrapFormat.Mime || (Format == BootstrapFormat.Shell && (Compressed || Loader is not null));

    /// <summary>The artifact's SHA-256, lower-case hex.</summary>
    public string Sha256 => Sha256Hex(Bytes);

    // SHA-256 in lower-case hex, as sha256sum prints it (the artifact's, and the script a loader pins).
    internal static string Sha256Hex(byte[] data)
    {
        using var sha = SHA256.Create();
        return string.Concat(sha.ComputeHash(data).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }

    /// <summary>
    /// Builds the artifact. <paramref name="compress"/> gzips the whole document (cloud-init and nodeadm decompress gzip
    /// user data). <paramref name="mergeWith"/> (Mime) is an existing user data document whose parts are kept.
    /// <paramref name="scriptUri"/> is where the script is put: ParallelCluster downloads it from there, and the Shell,
    /// CloudConfig and Mime documents then carry a <see cref="BootstrapLoader"/> instead of the script (an s3:// location
    /// needs its bucket's <paramref name="scriptRegion"/>; <paramref name="scriptEndpointUrl"/> is an S3 endpoint for it).
    /// User data over 16,384 bytes is refused.
    /// </summary>
    public static BootstrapArtifact Build(BootstrapScript script, BootstrapFormat format, bool compress = false, string? mergeWith = null, string? scriptUri = null, string? scriptRegion = null, string? scriptEndpointUrl = null)
    {
        if (script is null)
        {
            throw new ArgumentNullException(nameof(script));
        }

        if (mergeWith is not null && format != BootstrapFormat.Mime)
        {
            throw Conflict("-MergeWith keeps the parts of an existing user data document: it goes with -Format Mime only.");
        }

        var loader = scriptUri is not null && format != BootstrapFormat.ParallelCluster ? BootstrapLoader.For(script, scriptUri, scriptRegion, scriptEndpointUrl) : null;
        var payload = loader is null
            ? new Payload(script.Text, script.Description, script.Steps.Count, BootstrapScript.NodePath, "s3mount-bootstrap.sh", "S3Mount bootstrap", "its s3b_step lines say what each step does")
            : new Payload(loader.Text, loader.Description, script.Steps.Count, BootstrapLoader.NodePath, "s3mount-bootstrap-loader.sh", "S3Mount bootstrap loader", "its comments list the steps of the script it downloads");
        string? configuration = null;
        string text;
        switch (format)
        {
            case BootstrapFormat.Shell:
                text = payload.Text;
                break;
            case BootstrapFormat.CloudConfig:
                text = CloudConfig(payload, compress);
                break;
            case BootstrapFormat.Mime:
                text = Mime(payload, mergeWith, compress);
                break;
            case BootstrapFormat.ParallelCluster:
                if (compress)
                {
                    throw Conflict("ParallelCluster runs the script it downloads as it is: -Compress does not go with -Format ParallelCluster.");
                }

                text = script.Text;
                configuration = ParallelClusterConfiguration(script, scriptUri);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format));
        }

        var bytes = compress ? Gzip(Utf8(text)) : Utf8(text);
        var artifact = new BootstrapArtifact(format, script, bytes, compress, configuration, loader);
        if (artifact.IsUserData && bytes.Length > UserDataLimit)
        {
            throw new S3MountException(BootstrapErrorIds.TooLarge, S3MountErrorKind.InvalidArgument,
                $"The {format} user data of {script.Mounts.Count} mount(s){(script.Steps.Any(s => s.Kind == "install") ? " with an install step" : string.Empty)} is {bytes.Length:N0} bytes" +
                (compress ? " gzip-compressed" : string.Empty) + $"; EC2 takes at most {UserDataLimit:N0} bytes of user data. " +
                (loader is not null
                    ? "Merge it with a smaller document, or add -Compress."
                    : compress
                    ? "Put the script where the nodes download it with -ScriptUri (the user data is then a loader of about 3 KB that checks the script's SHA-256), export fewer mounts per document, or leave the install out (install Mountpoint in the image)."
                    : "Add -Compress (gzip: cloud-init and nodeadm decompress it), or put the script where the nodes download it with -ScriptUri (the user data is then a loader of 3-8 KB)."),
                format.ToString());
        }

        return artifact;
    }

    /// <summary>Gzip, as cloud-init and nodeadm decompress it (the strongest level the runtime offers).</summary>
    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, StrongestLevel(), leaveOpen: true))
        {
            gzip.Write(data, 0, data.Length);
        }

        return output.ToArray();
    }

    /// <summary>Reverses <see cref="Gzip"/>.</summary>
    public static byte[] Gunzip(byte[] data)
    {
        using var input = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }

    // CompressionLevel.SmallestSize (3) exists from .NET 6 on; Windows PowerShell's .NET Framework has Optimal at most.
    private static CompressionLevel StrongestLevel()
    {
        try
        {
            using var probe = new GZipStream(Stream.Null, (CompressionLevel)3);
            return (CompressionLevel)3;
        }
        catch (ArgumentOutOfRangeException)
        {
            return CompressionLevel.Optimal;
        }
    }

    private static byte[] Utf8(string text) => new UTF8Encoding(false).GetBytes(text);

    private static S3MountException Conflict(string message) =>
        new(BootstrapErrorIds.ParameterConflict, S3MountErrorKind.InvalidArgument, message, null);

    // What the documents say about themselves in their comments: the script header's lines.
    private static IEnumerable<string> Comment(IEnumerable<string> description, string prefix) =>
        description.Select(d => prefix + "  " + d);

    // What a user data document carries and runs: the bootstrap script, or the loader that downloads it.
    // Steps: how many steps the script has (the loader's description has one more line, the download).
    private sealed record Payload(string Text, IReadOnlyList<string> Description, int Steps, string NodePath, string FileName, string Title, string StepsWhere);

    /// <summary>
    /// <c>#cloud-config</c>: <c>write_files</c> puts the script at <see cref="BootstrapScript.NodePath"/> and
    /// <c>runcmd</c> runs it once per instance. Lists merge with other cloud-config parts instead of replacing them.
    /// The script is inside as gzip and base64, or, when the whole document is compressed, as plain text (compressing
    /// it twice would cost about a kilobyte).
    /// </summary>
    private static string CloudConfig(Payload script, bool compressed)
    {
        var sb = new StringBuilder();
        sb.Append("#cloud-config\n");
        sb.Append("# ").Append(script.Title).Append(" (Export-S3MountBootstrap): writes ").Append(script.NodePath).Append(" and runs it once, on the instance's first boot")
            .Append(compressed ? " (" + script.StepsWhere + ").\n" : ":\n");
        if (!compressed)
        {
            // Compressed, the script is in plain text below: no need to say it twice.
            foreach (var line in Comment(script.Description, "#"))
            {
                sb.Append(line).Append('\n');
            }
        }

        sb.Append("# Its output is in /var/log/cloud-init-output.log and the journal (journalctl -t s3mount-bootstrap).\n");
        sb.Append("merge_how:\n");
        sb.Append("- name: list\n  settings: [append]\n");
        sb.Append("- name: dict\n  settings: [no_replace, recurse_list]\n");
        sb.Append("write_files:\n");
        sb.Append("- path: ").Append(script.NodePath).Append('\n');
        sb.Append("  owner: root:root\n");
        sb.Append("  permissions: '0700'\n");
        if (compressed)
        {
            sb.Append("  content: |").Append(script.Text.EndsWith("\n\n", StringComparison.Ordinal) ? "+" : script.Text.EndsWith("\n", StringComparison.Ordinal) ? string.Empty : "-").Append('\n');
            var body = script.Text.TrimEnd('\n');
            foreach (var line in body.Split('\n'))
            {
                sb.Append(line.Length == 0 ? string.Empty : "   ").Append(line).Append('\n');
            }

            // Keep chomping (|+) keeps only the line breaks that are in the block: each one after the first is an empty line.
            for (var i = body.Length + 1; i < script.Text.Length; i++)
            {
                sb.Append('\n');
            }
        }
        else
        {
            sb.Append("  encoding: gz+b64\n");
            sb.Append("  content: ").Append(Convert.ToBase64String(Gzip(Utf8(script.Text)))).Append('\n');
        }

        sb.Append("runcmd:\n");
        sb.Append("- [/bin/sh, ").Append(script.NodePath).Append("]\n");
        return sb.ToString();
    }

    /// <summary>
    /// A <c>multipart/mixed</c> document: the parts of <paramref name="mergeWith"/> (kept byte for byte; a single
    /// document that is not MIME becomes the first part), then the script as a part cloud-init runs as a shell script:
    /// gzip in base64 (cloud-init decompresses <c>application/gzip</c> parts), or, when the whole document is
    /// compressed and has LF line ends, plain <c>text/x-shellscript</c>. nodeadm (EKS AL2023) reads only its <c>application/node.eks.aws</c> parts.
    /// </summary>
    private static string Mime(Payload script, string? mergeWith, bool compressed)
    {
        string Part(string nl)
        {
            var sb = new StringBuilder();

            // Plain text only in a compressed document with LF line ends. In one with CRLF line ends (merged with
            // -MergeWith) a text part would be read back with CRLF, and "#!/bin/sh\r" runs nothing: there, as in an
            // uncompressed document, the script travels gzipped in base64, byte for byte.
            var plain = compressed && nl == "\n";
            if (plain)
            {
                sb.Append("Content-Type: text/x-shellscript; charset=\"utf-8\"").Append(nl);
                if (script.Text.Any(c => c > 127))
                {
                    sb.Append("Content-Transfer-Encoding: 8bit").Append(nl);
                }
            }
            else
            {
                sb.Append("Content-Type: application/gzip").Append(nl);
                sb.Append("Content-Transfer-Encoding: base64").Append(nl);
            }

            sb.Append("Content-Disposition: attachment; filename=\"").Append(script.FileName).Append('"').Append(nl);
            sb.Append("Content-Description: ").Append(script.Title).Append(" (Export-S3MountBootstrap), ").Append(script.Steps.ToString(CultureInfo.InvariantCulture)).Append(" step(s)").Append(nl);
            sb.Append(nl);
            if (plain)
            {
                // The line break before the next boundary belongs to the boundary (RFC 2046): one more keeps the script's own.
                sb.Append(script.Text).Append(nl);
            }
            else
            {
                var b64 = Convert.ToBase64String(Gzip(Utf8(script.Text)));
                for (var i = 0; i < b64.Length; i += 76)
                {
                    sb.Append(b64, i, Math.Min(76, b64.Length - i)).Append(nl);
                }
            }

            return sb.ToString();
        }

        if (mergeWith is null)
        {
            var sb = new StringBuilder();
            sb.Append("MIME-Version: 1.0\n");
            sb.Append("Content-Type: multipart/mixed; boundary=\"").Append(MimeBoundary).Append("\"\n");
            sb.Append('\n');
            sb.Append(script.Title).Append(" (Export-S3MountBootstrap): the part below is a shell script that cloud-init runs once")
                .Append(compressed ? ".\n" : ":\n");
            if (!compressed)
            {
                // Compressed, the script is in plain text below: no need to say it twice.
                foreach (var line in Comment(script.Description, string.Empty))
                {
                    sb.Append(line).Append('\n');
                }
            }

            sb.Append("--").Append(MimeBoundary).Append('\n');
            sb.Append(Part("\n"));
            sb.Append("--").Append(MimeBoundary).Append("--\n");
            return sb.ToString();
        }

        return UserDataMerge.Append(mergeWith, Part);
    }

    /// <summary>
    /// The cluster configuration keys (YAML) that run the script at <paramref name="scriptUri"/> on each node when it is
    /// configured, and give the nodes' role access to the script and to the mounted buckets.
    /// </summary>
    private static string ParallelClusterConfiguration(BootstrapScript script, string? scriptUri)
    {
        var (scheme, bucket, key) = ParseScriptUri(scriptUri);
        var sb = new StringBuilder();
        sb.Append("# S3Mount bootstrap (Export-S3MountBootstrap) for AWS ParallelCluster 3. The script, ").Append(scriptUri)
            .Append(", runs on each node once it is configured:\n");
        foreach (var line in Comment(script.Description, "#"))
        {
            sb.Append(line).Append('\n');
        }

        sb.Append("# Put these keys into each Scheduling / SlurmQueues entry whose nodes mount the buckets (and into HeadNode if it\n");
        sb.Append("# mounts them too). Its output is in /var/log/cloud-init-output.log on compute nodes, /var/log/cfn-init.log on the\n");
        sb.Append("# head node, and in the journal (journalctl -t s3mount-bootstrap).\n");
        sb.Append("CustomActions:\n");
        sb.Append("  OnNodeConfigured:\n");
        sb.Append("    Script: ").Append(Yaml(scriptUri!)).Append('\n');
        var access = new List<(string Bucket, string? Key, bool Write, string Why)>();
        if (scheme == "s3")
        {
            access.Add((bucket!, key, false, "the bootstrap script"));
        }

        var manual = new List<string>();
        foreach (var m in script.Mounts)
        {
            var kind = Model.Bucket.Classify(m.Bucket);
            var write = !m.Options.ReadOnly;
            var why = "mounted " + (write ? "read-write" : "read-only") + " at " + m.Path + (m.Prefix is null ? string.Empty : " (prefix " + m.Prefix + ")");
            if (kind != BucketKind.GeneralPurpose)
            {
                manual.Add(m.Bucket + " (" + why + ")");
                continue;
            }

            var existing = access.FindIndex(a => a.Bucket == m.Bucket && a.Key is null);
            if (existing >= 0)
            {
                access[existing] = (m.Bucket, null, access[existing].Write || write, access[existing].Why + "; " + why);
            }
            else
            {
                access.Add((m.Bucket, null, write, why));
            }
        }

        if (access.Count > 0)
        {
            sb.Append("Iam:\n");
            sb.Append("  S3Access:\n");
            foreach (var a in access)
            {
                sb.Append("    - BucketName: ").Append(Yaml(a.Bucket)).Append("  # ").Append(a.Why).Append('\n');
                if (a.Key is not null)
                {
                    sb.Append("      KeyName: ").Append(Yaml(a.Key)).Append('\n');
                }

                sb.Append("      EnableWriteAccess: ").Append(a.Write ? "true" : "false").Append('\n');
            }
        }

        foreach (var m in manual)
        {
            sb.Append("# S3Access cannot name ").Append(m).Append(": grant the nodes' role access to it with an AdditionalIamPolicies entry.\n");
        }

        return sb.ToString();
    }

    /// <summary>Splits an <c>s3://bucket/key</c> or <c>https://</c> script location; anything else is refused.</summary>
    public static (string Scheme, string? Bucket, string? Key) ParseScriptUri(string? uri)
    {
        if (uri is not null && uri.StartsWith("s3://", StringComparison.Ordinal))
        {
            try
            {
                var (b, k) = Install.S3PackagePresigner.ParseS3Uri(uri);
                return ("s3", b, k);
            }
            catch (S3MountException)
            {
                // reported below with this parameter's own words
            }
        }
        else if (uri is not null && uri.StartsWith("https://", StringComparison.Ordinal) && Uri.TryCreate(uri, UriKind.Absolute, out var u) && u.Host.Length > 0 && !TextRules.HasControlCharacter(uri) && uri.IndexOf(' ') < 0)
        {
            return ("https", null, null);
        }

        throw new S3MountException(BootstrapErrorIds.ScriptUriInvalid, S3MountErrorKind.InvalidArgument,
            $"'{uri}' is not where ParallelCluster can download the script from: give -ScriptUri s3://bucket/path/bootstrap.sh (with -Upload to put it there now) or an https:// URL.", uri);
    }

    // A YAML single-quoted scalar: nothing in it is special but the quote, which doubles.
    private static string Yaml(string value) => "'" + value.Replace("'", "''") + "'";
}
