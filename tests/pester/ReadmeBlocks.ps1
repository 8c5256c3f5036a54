# Dot-sourced by the README tests: the code blocks of README.md, each with the kind its <!-- readme-test: KIND -->
# marker names, its language, its code and the line it starts on.
function Get-ReadmeBlock {
    $readme = Get-Content -Raw -LiteralPath (Join-Path $PSScriptRoot '..' '..' 'README.md')
    @([regex]::Matches($readme, '(?ms)(?:<!-- readme-test: (?<kind>[a-z-]+) -->\s*\n)?```(?<lang>[a-z]*)\n(?<code>.*?)\n```') | ForEach-Object {
            @{ Kind = $_.Groups['kind'].Value; Lang = $_.Groups['lang'].Value; Code = $_.Groups['code'].Value; Line = ($readme.Substring(0, $_.Index) -split "`n").Count }
        })
}
