using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;

namespace S3Mount.Map;

/// <summary>
/// Reads mount maps: a PowerShell data file (<c>.psd1</c>) parsed, never run, or piped objects. The file's shape:
/// <code>
/// @{
///     Defaults = @{ User = 'ec2-user'; AllowOther = $true }       # optional: fields every mount has unless it says otherwise
///     Mounts   = @(
///         @{ Bucket = 'genomics-ref'; Path = '/fsx/ref'; ReadOnly = $true }
///         @{ Bucket = 's3://results/run-42/'; Path = '/mnt/results'; AllowDelete = $true; AllowOther = $false }
///     )
/// }
/// </code>
/// Keys are New-S3MountService's parameter names. Only data is accepted: hashtables, arrays, strings without
/// expansions, numbers, <c>$true</c>, <c>$false</c>, <c>$null</c>. Anything that would run (a command, <c>&amp;</c>, a
/// sub-expression, a variable, a script block, a method call, a cast) is a problem with its file, line and column, and
/// nothing in the file is ever evaluated.
/// </summary>
internal static class MountMapReader
{
    public const string MountsKey = "Mounts";
    public const string DefaultsKey = "Defaults";

    /// <summary>Reads and validates a map file; throws <see cref="MountMapException"/> listing every problem.</summary>
    public static MountMap ReadFile(string path)
    {
        var ast = Parser.ParseFile(path, out _, out var parseErrors);
        var problems = parseErrors.Select(e => new MountMapProblem(ErrorIds.MapSyntax, e.Message, At(e.Extent, path))).ToList();
        var entries = problems.Count > 0 ? new List<MountMapEntry>() : Entries(ast, path, problems);
        return MountMap.Build(entries, problems, path);
    }

    /// <summary>The entries of a parsed file (its problems go to <paramref name="problems"/>).</summary>
    private static List<MountMapEntry> Entries(ScriptBlockAst ast, string file, List<MountMapProblem> problems)
    {
        var entries = new List<MountMapEntry>();
        var shapeHint = "A mount map is one hashtable: @{ Mounts = @( @{ Bucket = 'my-bucket'; Path = '/mnt/s3' }, ... ) }.";
        if (ast.ParamBlock is not null || ast.BeginBlock is not null || ast.ProcessBlock is not null || ast.DynamicParamBlock is not null || ast.UsingStatements.Count > 0)
        {
            var block = (Ast?)ast.ParamBlock ?? (Ast?)ast.BeginBlock ?? (Ast?)ast.ProcessBlock ?? (Ast?)ast.DynamicParamBlock ?? ast.UsingStatements[0];
            problems.Add(new MountMapProblem(ErrorIds.MapExecutable, "a param, begin, process or using block is code, not data. " + shapeHint, At(block!.Extent, file)));
            return entries;
        }

        var statements = ast.EndBlock?.Statements ?? (IReadOnlyList<StatementAst>)Array.Empty<StatementAst>();
        if (statements.Count != 1)
        {
            problems.Add(new MountMapProblem(ErrorIds.MapShape, (statements.Count == 0 ? "the file is empty. " : "the file holds " + statements.Count + " statements. ") + shapeHint,
                statements.Count > 1 ? At(statements[1].Extent, file) : new MapLocation(file, 1, 1)));
            return entries;
        }

        var reader = new Reader(file, problems);
        if (reader.Value(statements[0]) is not Node { Value: List<(string Key, Node Value, IScriptExtent At)> top })
        {
            if (problems.Count == 0)
            {
                problems.Add(new MountMapProblem(ErrorIds.MapShape, "the file is not a hashtable. " + shapeHint, At(statements[0].Extent, file)));
            }

            return entries;
        }

        Node? mounts = null;
        var defaults = new List<(string Key, Node Value, IScriptExtent At)>();
        foreach (var (key, value, at) in top)
        {
            if (string.Equals(key, MountsKey, StringComparison.OrdinalIgnoreCase))
            {
                mounts = value;
            }
            else if (string.Equals(key, DefaultsKey, StringComparison.OrdinalIgnoreCase))
            {
                if (value.Value is List<(string Key, Node Value, IScriptExtent At)> d)
                {
                    defaults = d;
                }
                else if (value.Value is not Bad)
                {
                    problems.Add(new MountMapProblem(ErrorIds.MapShape, "Defaults is a hashtable of mount fields: @{ User = 'ec2-user' }.", At(value.Extent, file), DefaultsKey));
                }
            }
            else
            {
                problems.Add(new MountMapProblem(ErrorIds.MapShape, $"'{key}' is not a key of a mount map: it has Mounts (the mounts) and, optionally, Defaults (fields every mount has).", At(at, file), key));
            }
        }

        if (mounts is null)
        {
            problems.Add(new MountMapProblem(ErrorIds.MapShape, "the map has no Mounts key. " + shapeHint, At(statements[0].Extent, file)));
            return entries;
        }

        var items = mounts.Value switch
        {
            List<Node> list => list,
            List<(string, Node, IScriptExtent)> => new List<Node> { mounts },
            Bad => new List<Node>(),
            _ => null,
        };
        if (items is null)
        {
            problems.Add(new MountMapProblem(ErrorIds.MapShape, "Mounts is a list of hashtables: Mounts = @( @{ Bucket = ...; Path = ... }, ... ).", At(mounts.Extent, file), MountsKey));
            return entries;
        }

        var badDefaults = defaults.Any(d => d.Value.HasBad);
        for (var i = 0; i < items.Count; i++)
        {
            var source = MountsKey + "[" + i + "]";
            if (items[i].Value is not List<(string Key, Node Value, IScriptExtent At)> fields)
            {
                if (items[i].Value is not Bad)
                {
                    problems.Add(new MountMapProblem(ErrorIds.MapShape, "each mount is a hashtable: @{ Bucket = 'my-bucket'; Path = '/mnt/s3' }.", At(items[i].Extent, file), source));
                }

                continue;
            }

            if (badDefaults || fields.Any(f => f.Value.HasBad))
            {
                continue; // already reported; its other fields are not judged on a half-read mount
            }

            var merged = new List<KeyValuePair<string, object?>>();
            var locations = new Dictionary<string, MapLocation>(StringComparer.OrdinalIgnoreCase);
            foreach (var (key, value, at) in defaults.Where(d => !fields.Any(f => string.Equals(f.Key, d.Key, StringComparison.OrdinalIgnoreCase))).Concat(fields))
            {
                merged.Add(new KeyValuePair<string, object?>(key, value.Plain()));
                locations[MountSpecFields.Canonical(key) ?? key] = At(at, file);
            }

            entries.Add(new MountMapEntry(source, merged) { Location = At(items[i].Extent, file), FieldLocations = locations });
        }

        return entries;
    }

    /// <summary>
    /// One piped object as a map entry: a hashtable (every key a field), or any other object, such as Get-S3MountService
    /// output (its Options the base, every property named like a field a field, ExtraArguments as ExtraArgument; a
    /// PSCustomObject's unknown properties are problems too).
    /// </summary>
    public static MountMapEntry FromObject(object input, int index)
    {
        var source = "input object " + (index + 1);
        var o = input is PSObject p ? p.BaseObject : input;
        if (o is IDictionary d)
        {
            return new MountMapEntry(source, d.Keys.Cast<object>().Select(k => Field(Convert.ToString(k, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty, Commands.MountInput.Plain(d[k]))));
        }

        var ps = input as PSObject ?? PSObject.AsPSObject(input);
        var strict = o is PSCustomObject;
        var fields = new List<KeyValuePair<string, object?>>();
        MountSpec? baseSpec = null;
        foreach (var property in ps.Properties)
        {
            if (property.Name == "Options" && Commands.MountInput.Plain(SafeValue(property)) is MountOptions options)
            {
                baseSpec = new MountSpec { Options = options };
            }
            else if (strict || MountSpecFields.Canonical(Alias(property.Name)) is not null)
            {
                fields.Add(Field(Alias(property.Name), Commands.MountInput.Plain(SafeValue(property))));
            }
        }

        return new MountMapEntry(source, fields, baseSpec);
    }

    private static string Alias(string name) => Commands.MountInput.FieldName(name);

    private static object? SafeValue(PSPropertyInfo property)
    {
        try
        {
            return property.Value;
        }
        catch (GetValueException)
        {
            return null;
        }
    }

    private static KeyValuePair<string, object?> Field(string name, object? value) => new(name, value);

    private static MapLocation At(IScriptExtent extent, string file) => new(file, extent.StartLineNumber, extent.StartColumnNumber);

    /// <summary>A value read from the file's syntax tree, or a refusal already reported.</summary>
    private sealed class Node
    {
        public Node(object? value, IScriptExtent extent)
        {
            Value = value;
            Extent = extent;
        }

        /// <summary>string, a number, bool, null, List&lt;Node&gt; (array), List&lt;(key, Node, extent)&gt; (hashtable), or Bad.</summary>
        public object? Value { get; }

        public IScriptExtent Extent { get; }

        public bool HasBad => Value switch
        {
            Bad => true,
            List<Node> l => l.Any(n => n.HasBad),
            List<(string Key, Node Value, IScriptExtent At)> h => h.Any(kv => kv.Value.HasBad),
            _ => false,
        };

        public object? Plain() => Value switch
        {
            List<Node> l => l.Select(n => n.Plain()).ToArray(),
            List<(string Key, Node Value, IScriptExtent At)> h => h.ToDictionary(kv => kv.Key, kv => kv.Value.Plain(), StringComparer.OrdinalIgnoreCase),
            _ => Value,
        };
    }

    private sealed class Bad
    {
        public static readonly Bad Instance = new();
    }

    /// <summary>Turns syntax into data, refusing (and reporting) everything that is not data.</summary>
    private sealed class Reader
    {
        private readonly string _file;
        private readonly List<MountMapProblem> _problems;
        private readonly Stack<string> _path = new();

        public Reader(string file, List<MountMapProblem> problems)
        {
            _file = file;
            _problems = problems;
        }

        public Node Value(Ast ast)
        {
            switch (ast)
            {
                case PipelineAst { PipelineElements.Count: 1 } pipe when pipe.PipelineElements[0] is CommandExpressionAst { Redirections.Count: 0 } ce:
                    return Value(ce.Expression);
                case PipelineAst pipe:
                    var command = pipe.PipelineElements.OfType<CommandAst>().FirstOrDefault();
                    return Refuse(ast, command is null ? "a pipeline"
                        : command.InvocationOperator is TokenKind.Ampersand or TokenKind.Dot ? "a call (" + (command.InvocationOperator == TokenKind.Ampersand ? "&" : ".") + " " + command.CommandElements[0].Extent.Text + ")"
                        : "the command " + (command.GetCommandName() ?? command.CommandElements[0].Extent.Text));
                case StatementAst:
                    return Refuse(ast, "a statement (" + ast.GetType().Name.Replace("StatementAst", string.Empty).Replace("Ast", string.Empty).ToLowerInvariant() + ")");
                case HashtableAst h:
                    var pairs = new List<(string Key, Node Value, IScriptExtent At)>();
                    foreach (var kv in h.KeyValuePairs)
                    {
                        if (kv.Item1 is not StringConstantExpressionAst key)
                        {
                            pairs.Add(("?", Refuse(kv.Item1, "a computed key"), kv.Item1.Extent));
                            continue;
                        }

                        _path.Push((_path.Count > 0 ? "." : string.Empty) + key.Value);
                        pairs.Add((key.Value, Value(kv.Item2), key.Extent));
                        _path.Pop();
                    }

                    return new Node(pairs, ast.Extent);
                case ArrayExpressionAst a:
                    var items = new List<Node>();
                    foreach (var statement in a.SubExpression.Statements)
                    {
                        if (statement is PipelineAst { PipelineElements.Count: 1 } p && p.PipelineElements[0] is CommandExpressionAst { Expression: ArrayLiteralAst inner })
                        {
                            items.AddRange(inner.Elements.Select(e => Indexed(items.Count, e)));
                        }
                        else
                        {
                            items.Add(Indexed(items.Count, statement));
                        }
                    }

                    return new Node(items, ast.Extent);
                case ArrayLiteralAst l:
                    return new Node(l.Elements.Select((e, i) => Indexed(i, e)).ToList(), ast.Extent);
                case StringConstantExpressionAst s:
                    return new Node(s.Value, ast.Extent);
                case ExpandableStringExpressionAst e when e.NestedExpressions.Count == 0:
                    return new Node(e.Value, ast.Extent);
                case ExpandableStringExpressionAst e:
                    return Refuse(e.NestedExpressions[0], "an expansion inside a double-quoted string", "write the value in single quotes");
                case ConstantExpressionAst c:
                    return new Node(c.Value, ast.Extent);
                case VariableExpressionAst v when v.VariablePath.IsUnqualified && v.VariablePath.UserPath.Equals("true", StringComparison.OrdinalIgnoreCase):
                    return new Node(true, ast.Extent);
                case VariableExpressionAst v when v.VariablePath.IsUnqualified && v.VariablePath.UserPath.Equals("false", StringComparison.OrdinalIgnoreCase):
                    return new Node(false, ast.Extent);
                case VariableExpressionAst v when v.VariablePath.IsUnqualified && v.VariablePath.UserPath.Equals("null", StringComparison.OrdinalIgnoreCase):
                    return new Node(null, ast.Extent);
                case VariableExpressionAst v:
                    return Refuse(ast, "the variable " + v.Extent.Text, "the only variables a map may name are $true, $false and $null");
                case SubExpressionAst:
                    return Refuse(ast, "a sub-expression $(...)");
                case ScriptBlockExpressionAst:
                    return Refuse(ast, "a script block { ... }");
                case ParenExpressionAst:
                    return Refuse(ast, "an expression in parentheses");
                case InvokeMemberExpressionAst:
                    return Refuse(ast, "a method call");
                case ConvertExpressionAst:
                    return Refuse(ast, "a cast (" + ((ConvertExpressionAst)ast).Type.Extent.Text + ")");
                default:
                    return Refuse(ast, "an expression (" + ast.GetType().Name.Replace("ExpressionAst", string.Empty).ToLowerInvariant() + ")");
            }
        }

        // An element of an array, read with its index in the path (Mounts[2].Path) for messages.
        private Node Indexed(int index, Ast element)
        {
            _path.Push("[" + index + "]");
            try
            {
                return Value(element);
            }
            finally
            {
                _path.Pop();
            }
        }

        private Node Refuse(Ast ast, string what, string? hint = null)
        {
            var text = ast.Extent.Text.Length > 40 ? ast.Extent.Text.Substring(0, 40) + "..." : ast.Extent.Text;
            var where = _path.Count > 0 ? string.Concat(_path.Reverse()) : null;
            _problems.Add(new MountMapProblem(ErrorIds.MapExecutable,
                $"{what} ('{text.Replace("\r", " ").Replace("\n", " ")}') is not data, and nothing in a map is run{(hint is null ? string.Empty : ": " + hint)}. A mount map holds only hashtables, arrays, quoted strings, numbers, $true, $false and $null.",
                At(ast.Extent, _file), null, where));
            return new Node(Bad.Instance, ast.Extent);
        }
    }
}
