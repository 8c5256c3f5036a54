using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace S3Mount.Engine.Scripts;

/// <summary>
/// One POSIX sh script for one operation on one node: the same text runs locally with /bin/sh, travels through SSM
/// Run Command, or is printed for bootstrap. Values reach it only as single-quoted assignments at the top.
/// </summary>
public sealed class NodeScript
{
    private static readonly Dictionary<string, string> Sources = new(StringComparer.Ordinal);

    private NodeScript(string operation, string text)
    {
        Operation = operation;
        Text = text;
    }

    /// <summary>create, list, repair, control, remove, install, report...</summary>
    public string Operation { get; }

    /// <summary>The whole script, starting with <c>#!/bin/sh</c>.</summary>
    public string Text { get; }

    public override string ToString() => Text;

    /// <summary>Composes <c>lib.sh</c> and <c>&lt;operation&gt;.sh</c> with the parameters assigned first.</summary>
    public static NodeScript Compose(string operation, IEnumerable<KeyValuePair<string, string>> parameters, bool requireSelection = false) =>
        Compose(operation, parameters, Array.Empty<string>(), requireSelection);

    /// <summary>
    /// Composes <c>lib.sh</c>, then the named shared function files (<c>mountpoint</c>, ...), then
    /// <c>&lt;operation&gt;.sh</c>, with the parameters assigned first. With <paramref name="requireSelection"/>, a script
    /// whose NAMES and PATHS are both empty is refused (it would act on nothing, or on everything).
    /// </summary>
    public static NodeScript Compose(string operation, IEnumerable<KeyValuePair<string, string>> parameters, IEnumerable<string> libraries, bool requireSelection = false)
    {
        var list = parameters.ToList();
        if (requireSelection && list.Where(p => p.Key is "NAMES" or "PATHS").All(p => p.Value.Length == 0))
        {
            throw new Errors.S3MountException(Errors.ErrorIds.NameInvalid, Errors.S3MountErrorKind.InvalidArgument,
                "Select at least one service by -Name (mountpoint-s3-<id>.service) or -Path.", null);
        }

        var sb = new StringBuilder();
        sb.Append("#!/bin/sh\n");
        sb.Append("# shellcheck disable=SC2016 # values are single-quoted on purpose: nothing in them expands\n");
        if (list.Any(p => IsIndexed(p.Key)))
        {
            sb.Append("# shellcheck disable=SC2034 # M<i>_* values are read by index (eval in the operation)\n");
        }

        sb.Append("# S3Mount ").Append(typeof(NodeScript).Assembly.GetName().Version?.ToString(3)).Append(": ").Append(operation).Append(" (generated; runs as root with /bin/sh)\n");
        sb.Append("set -u\n");
        sb.Append("umask 022\n");
        foreach (var p in list)
        {
            if (p.Key.Length == 0 || p.Key.Any(c => !(char.IsUpper(c) || char.IsDigit(c) || c == '_')))
            {
                throw new ArgumentException("Script parameter names are upper-case identifiers: " + p.Key);
            }

            sb.Append(p.Key).Append('=').Append(ShellQuote(p.Value)).Append('\n');
        }

        sb.Append(Source("lib")).Append('\n');
        foreach (var library in libraries)
        {
            sb.Append(Source(library)).Append('\n');
        }

        sb.Append(Source(operation)).Append('\n');
        return new NodeScript(operation, sb.ToString());
    }

    // A parameter of the i-th item of a list (M1_NAME): the operation reads it by index.
    private static bool IsIndexed(string key) =>
        key.Length > 2 && key[0] == 'M' && char.IsDigit(key[1]) && key.IndexOf('_') > 1 && key.Substring(1, key.IndexOf('_') - 1).All(char.IsDigit);

    /// <summary>POSIX single quoting: any string (without NUL) becomes one literal word.</summary>
    public static string ShellQuote(string value)
    {
        if (value.IndexOf('\0') >= 0)
        {
            throw new ArgumentException("A NUL character cannot reach a shell script.");
        }

        return "'" + value.Replace("'", "'\\''") + "'";
    }

    /// <summary>The text of an embedded script file (<c>lib</c>, <c>create</c>, ...).</summary>
    public static string Source(string name)
    {
        lock (Sources)
        {
            if (!Sources.TryGetValue(name, out var text))
            {
                using var s = typeof(NodeScript).Assembly.GetManifestResourceStream("S3Mount.Scripts." + name + ".sh")
                    ?? throw new InvalidOperationException("No embedded script " + name);
                using var r = new StreamReader(s, new UTF8Encoding(false));
                text = r.ReadToEnd();
                Sources[name] = text;
            }

            return text;
        }
    }
}
