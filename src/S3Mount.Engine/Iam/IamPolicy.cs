using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace S3Mount.Engine.Iam;

/// <summary>One condition of a statement: <c>"StringLike": { "s3:prefix": ["data/*"] }</c>.</summary>
public sealed class IamCondition : IEquatable<IamCondition>
{
    public IamCondition(string op, string key, IEnumerable<string> values)
    {
        Operator = op;
        Key = key;
        Values = values.Distinct(StringComparer.Ordinal).OrderBy(v => v, StringComparer.Ordinal).ToList();
    }

    /// <summary><c>StringLike</c>, <c>StringEquals</c>, <c>ForAnyValue:StringEquals</c>.</summary>
    public string Operator { get; }

    /// <summary><c>s3:prefix</c>, <c>aws:ResourceAccount</c>, <c>kms:ResourceAliases</c>.</summary>
    public string Key { get; }

    /// <summary>The values, distinct and in ordinal order (any one of them matches).</summary>
    public IReadOnlyList<string> Values { get; }

    public bool Equals(IamCondition? other) =>
        other is not null && Operator == other.Operator && Key == other.Key && Values.SequenceEqual(other.Values, StringComparer.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as IamCondition);

    public override int GetHashCode() => (Operator + "\u0001" + Key + "\u0001" + string.Join("\u0001", Values)).GetHashCode();

    public override string ToString() => Operator + " " + Key + " [" + string.Join(", ", Values) + "]";
}

/// <summary>
/// One permission a mount needs: an action on a resource under conditions, and why (the Mountpoint documentation
/// section it comes from and the mount it is for). The policy is these grants, merged.
/// </summary>
public sealed class IamGrant
{
    internal IamGrant(string action, string resource, IEnumerable<IamCondition>? conditions, string reason, string mount)
    {
        Action = action;
        Resource = resource;
        Conditions = (conditions ?? Enumerable.Empty<IamCondition>()).OrderBy(c => c.Operator, StringComparer.Ordinal).ThenBy(c => c.Key, StringComparer.Ordinal).ToList();
        Reason = reason;
        Mount = mount;
    }

    public string Action { get; }

    public string Resource { get; }

    public IReadOnlyList<IamCondition> Conditions { get; }

    /// <summary>Why the mount needs it: what in the mount asks for it, and the Mountpoint documentation section.</summary>
    public string Reason { get; }

    /// <summary>The mount it is for, as <c>s3://bucket/prefix/</c>.</summary>
    public string Mount { get; }

    internal string ConditionKey => string.Join("\u0002", Conditions.Select(c => c.ToString()));

    public override string ToString() => Action + " on " + Resource + (Conditions.Count == 0 ? string.Empty : " if " + string.Join(" and ", Conditions));
}

/// <summary>One statement of the policy document (always <c>Allow</c>).</summary>
public sealed class IamStatement
{
    internal IamStatement(string sid, IReadOnlyList<string> actions, IReadOnlyList<string> resources, IReadOnlyList<IamCondition> conditions)
    {
        Sid = sid;
        Actions = actions;
        Resources = resources;
        Conditions = conditions;
    }

    public string Sid { get; }

    public string Effect => "Allow";

    public IReadOnlyList<string> Actions { get; }

    public IReadOnlyList<string> Resources { get; }

    public IReadOnlyList<IamCondition> Conditions { get; }

    /// <summary>The condition block as IAM writes it: per operator, its keys with their values.</summary>
    public IEnumerable<IGrouping<string, IamCondition>> ConditionBlock => Conditions.GroupBy(c => c.Operator);
}

/// <summary>An identity-based policy document (version 2012-10-17).</summary>
public sealed class IamPolicyDocument
{
    public const string PolicyVersion = "2012-10-17";

    /// <summary>What IAM allows for a customer managed policy, counted without white space.</summary>
    public const int ManagedPolicyLimit = 6144;

    internal IamPolicyDocument(IReadOnlyList<IamStatement> statements) => Statements = statements;

    public string Version => PolicyVersion;

    public IReadOnlyList<IamStatement> Statements { get; }

    /// <summary>The document as IAM takes it: Version, then Statement with Sid, Effect, Action, Resource, Condition.</summary>
    public string ToJson(bool indented = true)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("Version", Version);
            w.WriteStartArray("Statement");
            foreach (var s in Statements)
            {
                w.WriteStartObject();
                w.WriteString("Sid", s.Sid);
                w.WriteString("Effect", s.Effect);
                Strings(w, "Action", s.Actions);
                Strings(w, "Resource", s.Resources);
                if (s.Conditions.Count > 0)
                {
                    w.WriteStartObject("Condition");
                    foreach (var op in s.ConditionBlock)
                    {
                        w.WriteStartObject(op.Key);
                        foreach (var c in op)
                        {
                            Strings(w, c.Key, c.Values);
                        }

                        w.WriteEndObject();
                    }

                    w.WriteEndObject();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(ms.ToArray()).Replace("\r\n", "\n");
    }

    /// <summary>The size IAM counts against its limits: the document without white space.</summary>
    public int Size => ToJson(indented: false).Length;

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }
}

/// <summary>What <see cref="IamPolicyBuilder.Build"/> produced: the document, and what a person must know about it.</summary>
public sealed class IamPolicyResult
{
    internal IamPolicyResult(IamPolicyDocument document, IReadOnlyList<IamGrant> grants, IReadOnlyList<string> warnings, IReadOnlyList<string> notes)
    {
        Document = document;
        Grants = grants;
        Warnings = warnings;
        Notes = notes;
    }

    public IamPolicyDocument Document { get; }

    /// <summary>Every permission each mount asked for, before merging, with its reason (for -Verbose and the tests).</summary>
    public IReadOnlyList<IamGrant> Grants { get; }

    /// <summary>Where the policy is broader than a mount needs (a wildcard S3Mount could not avoid), or may fall short.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>What the mounts also need outside this policy (bucket policies, key policies), or need nothing for.</summary>
    public IReadOnlyList<string> Notes { get; }
}
