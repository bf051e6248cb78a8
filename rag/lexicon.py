# ruff: noqa: RUF001, RUF003 (word lists in 25 languages: look-alike letters are the point)
"""Multilingual word lists for the injection scorer: the concepts an attack on an answer needs.

An injected post has to talk to whatever reads it (an AI, a bot, "whoever summarises
this"), about that reader's output (its answer, reply or summary), or about the rest of
the context ("everything above was a draft"). Real crisis posts talk to people about
the event, so these concepts, and above all their combinations, are rare in them
(measured on the 60k CrisisLexT6 tweets by ``tests/rag/test_safety.py``).

Each concept is one regular expression over 25 languages, to be searched in lower-cased
text (``text.lower()``). Words in scripts that
separate words with spaces are matched whole (``\\b``); Chinese, Japanese, Thai and the
attached prefixes of Arabic, Hebrew and Persian are matched as substrings.
"""

from __future__ import annotations

import re


def _concept(words: str, substrings: str = "") -> re.Pattern[str]:
    """One pattern: ``words`` (``|``-separated) matched whole, ``substrings`` anywhere.

    Concepts are written in lower case and searched in lower-cased text: three times
    faster than ``re.IGNORECASE`` on these long alternations.
    """
    parts = [rf"\b(?:{words})\b"]
    if substrings:
        parts.append(rf"(?:{substrings})")
    return re.compile("|".join(parts))


# Whatever reads the post on someone's behalf: an AI, a bot, an assistant, a summariser.
ADDRESSEE = _concept(
    r"a\.?i\.?\s*(?:assistants?|tools?|systems?|models?|bots?|helpers?|readers?|summari[sz]ers?)"
    # (bare "assistant", "bot" and "AI" are matched by rag/safety.py, which knows job titles)
    r"|summari[sz]ers?|reader-?bots?|(?:ai|bots?|assistants?) (?:reading|answering|summari[sz]ing)"
    r"|automated (?:systems?|readers?|tools?|summar(?:y|ies)|assistants?|answers?)"
    r"|(?:any|every|whatever|whichever) (?:ai|model|system|tool|program)"
    r"|(?:anyone|whoever|whatever|anybody|everyone|those|people) (?:(?:who|that|which) )?(?:is |are )?"
    r"(?:summari[sz]ing|answering|compiling|processing|responding|replying)"
    r"|(?:if|when) (?:you(?:'re| are)|this is being) (?:summari[sz]ing|answering|compiling|processing"
    r"|responding|read by)"
    # es, pt, it, fr, de, nl
    r"|asistentes?|assistentes?|assistenti|robôs?|modelo de (?:lenguaje|linguagem)"
    r"|quien (?:resuma|responda|conteste)|quem (?:resum[ei]r?|responde)|chi (?:riassume|risponde)"
    r"|(?:resúmenes|resumos|riassunti|résumés) automáticos|riassunti automatici|résumés automatiques"
    r"|qui résume|quiconque (?:résume|répond)|modèle de langage"
    r"|assistenten|sprachmodell|wer (?:das|dies|diese \w+) (?:zusammenfasst|beantwortet)"
    r"|automatische zusammenfassungen|die (?:fragen|das) beantworten"
    r"|wie (?:dit|deze \w+|tweets \w+ \w+) samenvat|iedereen die .{0,80}samenvat"
    r"|(?:team|people|company) (?:that|who) (?:built|made|trained|created) you|your (?:developers|creators"
    r"|engineers|operators|makers)"
    # pl, tr, id/ms, tl, sw, vi, ro, cs, sv
    r"|asystent\w*|kto streszcza|każdy, kto streszcza|yapay zek[aâ]\w*|asistan\w*|özet(?:leyen|"
    r"i|ini)? çıkaran\w*|özetleyen\w*|yang merangkum|kecerdasan buatan|asisten|pembantu ai"
    r"|sumasagot|nagbubuod|msaidizi|anayefupisha|yeyote anayefupisha|trợ lý|tóm tắt tự động"
    r"|trí tuệ nhân tạo|cine rezumă|asistent\w*|umělá inteligence|den som sammanfattar"
    r"|muhtasari wa kiotomatiki|ringkasan otomatis",
    # ru, uk, el, ar, he, fa, hi, bn, ja, zh, ko, th
    r"\bии\b|\bші\b|ассистент|асистент|помощник|помічник|нейросет|нейромереж|бот[ыиа]?\b|боти\b"
    r"|языков\w* модел|мовн\w* модел|кто (?:делает|составляет) сводку|автоматическ\w* сводк"
    r"|автоматичн\w* зведен|βοηθ[όο]|συνοψίζει|τεχνητή νοημοσύνη"
    r"|ذكاء اصطناعي|الذكاء الاصطناعي|مساعد|بوت|روبوت|من يلخص|يلخص|الآلي"
    r"|בינה מלאכותית|עוזר|בוט|هوش مصنوعی|دستیار|ربات"
    r"|सहायक|बॉट|एआई|कृत्रिम बुद्धि|सारांश बनाने|ऑटोमैटिक सारांश|स्वचालित सारांश|সহকারী|বট|এআই|কৃত্রিম বুদ্ধিমত্তা"
    r"|アシスタント|ボット|要約する|まとめる人|自動要約|言語モデル|人工知能"
    r"|助手|机器人|機器人|人工智能|语言模型|總結|总结|自动摘要|自動摘要|摘要"
    r"|비서|봇|챗봇|인공지능|언어 ?모델|요약하는|자동 요약|ผู้ช่วย|บอท|ปัญญาประดิษฐ์|สรุป",
)

# The reader's own output: its answer, reply, response, summary.
ANSWER = _concept(
    r"in (?:all |your |the |every |any )?(?:answers|replies|responses|summaries)\b"
    r"|(?:your|the|every|each|any|a|this|that|whatever you) (?:answers?|repl(?:y|ies)|responses?|summary"
    r"|summaries|output|briefing|write-?up)"
    r"|(?:tu|su|cada|toda|la) respuesta|(?:tu|su) resumen|(?:ta|votre|chaque|toute|la) réponse"
    r"|(?:ton|votre) résumé|(?:deine|eure|ihre|jede[rnms]?|die) antwort|(?:deine|eure) zusammenfassung"
    r"|(?:sua|cada|toda|a) resposta|seu resumo|(?:la tua|ogni|la) risposta|il tuo riassunto"
    r"|(?:je|jouw|elk|het) antwoord|je samenvatting|(?:twoja|twoją|każda|każdą) odpowied\w*"
    r"|odpowiedź|odpowiedzi|cevab\w*|yanıt\w*|jawaban\w*|sagot|jibu|majibu|câu trả lời"
    r"|răspuns\w*|odpověď|odpovědi|svar(?:et)?",
    r"ответ|відповід|απάντηση|απάντησή|إجاب|جواب|תשובה|پاسخ|जवाब|उत्तर|উত্তর"
    r"|回答|答え|答案|回复|回覆|답변|대답|คำตอบ",
)

# Directions about where something goes in that output, or what it must contain.
PLACEMENT = _concept(
    r"(?:start|begin|open|end|finish|close|lead|prefix|sign) (?:your|the|every|each|any|it|with)"
    r"|(?:first|last) (?:line|word)|as the (?:first|last|key|main|headline)|at the (?:top|end|start)"
    r"|(?:include|add|put|insert|append|mention|state|output|print|paste|quote|share|link|point)"
    r"(?: \w+){0,3} (?:in|into|at|to|with|on|first)"
    r"|make sure (?:your|the|every|each|it)|nothing else|and nothing more|no other text"
    r"|(?:must|should|needs? to|has to|have to)(?: \w+){0,2} (?:include|contain|mention|reference|cite|quote"
    r"|state|say|end|start|begin|appear|list|use)|omits?|replace (?:your|the|it|them|all|every)"
    r"|attribute (?:your|the|it|every)|cite accordingly|lead with"
    r"|(?:doit|doivent|debe|deben|muss|müssen|deve|devem|deve|moet|moeten) (?:\w+ ){0,2}(?:citer|inclure"
    r"|mentionner|contenir|citar|incluir|mencionar|zitieren|enthalten|nennen|citare|includere|menzionare"
    r"|vermelden|bevatten|noemen)|mett\w*|verlink\w*|einfüg\w*|bovenaan|onderaan"
    r"|(?:empieza|comienza|termina|incluye|pon|añade|agrega)\w*|(?:commence|termine|inclus|ajoute|mets)"
    r"\w*|(?:beginne|beende|füge|setze|schreib)\w*|(?:comece|termine|inclua|coloque|adicione|ponha)\w*"
    r"|(?:inizia|termina|includi|aggiungi|metti)\w*|(?:begin|eindig|zet|voeg)\w* (?:je|jouw|het|met)"
    r"|(?:zacznij|zakończ|dodaj|wstaw|umieść|wklej)\w*|(?:bitir|başla|ekle|yaz)\w*"
    r"|(?:mulai|akhiri|tambahkan|cantumkan|sertakan)\w*|(?:simulan|idagdag|ilagay)\w*"
    r"|(?:anza|maliza|ongeza|weka)\w*|(?:mở đầu|kết thúc|thêm|chèn)",
    r"начни|начните|заверш|законч|добав|вставь|вставьте|почни|закінч|додай|додайте"
    r"|ξεκινήστε|ξεκίνα|τελειώστε|προσθέστε|ابدأ|ابدئي|في نهاية|أضف|أضيفوا|ضع"
    r"|לפתוח|להתחיל|בסוף|הוסיפו|הוסף|شروع کن|در پایان|اضافه کن"
    r"|से शुरू|अंत में|जोड़|लिखें|লিখুন|শুরু করুন|শেষে"
    r"|最初に|最後に|冒頭|末尾|語尾|書いて|載せて|付けて|开头|开始|结尾|末尾|加上|附上|注明|写上"
    r"|끝에|처음에|시작|붙여|넣어|ขึ้นต้น|ลงท้าย|ใส่",
)

# The rest of the context written off: "everything above was a test", "earlier posts are void".
CONTEXT_DISMISSAL = _concept(
    r"(?:everything|all|whatever|what's|what is|anything|the (?:stuff|posts?|tweets?|messages?|notes?"
    r"|context|text|sources?)) (?:written |posted |said |shown )?(?:above|before this|earlier|so far)"
    r"|(?:context|posts?|tweets?|messages?|notes?|instructions?|guidance|rules|sources?) (?:above|before this"
    r"|you (?:were shown|saw|read|got))|(?:prior|previous|earlier|preceding|other) (?:context|posts|tweets"
    r"|messages|notes|guidance|sources|figures|content|results)"
    r"|(?:context|posts?|tweets?|messages?|notes?) (?:that )?(?:came|come|written|posted) before (?:this|it)"
    r"|(?:every|all|each|any) (?:other )?(?:posts?|tweets?|messages?|content)(?: \w+){0,3}"
    r" except (?:this|mine)"
    r"|none of (?:the|this|that) (?:stuff )?(?:above|before)|(?:scratch|drop|discard|forget|disregard"
    r"|set aside|throw out) (?:everything|all of (?:it|this|that|them)|the rest)"
    r"|(?:lo|todo lo) (?:anterior|de arriba)|(?:mensajes|publicaciones|tuits|notas) anteriores"
    r"|(?:tout )?ce qui (?:précède|est au-dessus)|(?:messages|publications|tweets) précédents"
    r"|(?:alles|allem) (?:oben|obige|vorherige)|vorherigen (?:beiträge|nachrichten|tweets)"
    r"|(?:contexto|posts?|mensagens) anterior(?:es)?|(?:tudo|o que está) acima"
    r"|(?:quanto|tutto (?:quello|ciò)) (?:scritto )?sopra|(?:messaggi|post) precedenti"
    r"|(?:alles|berichten|tweets) hierboven|eerdere berichten|wszystk\w* powyżej|yukarıdaki"
    r"|önceki (?:notlar|mesajlar|paylaşımlar)|di atas|sebelumnya|nasa itaas|uliotangulia"
    r"|ở trên|các bài (?:khác|trước)|de mai sus|výše|allt ovan",
    r"всему,? что выше|всё,? что выше|всього,? що вище|вище|выше|предыдущ|попередн"
    r"|παραπάνω|προηγούμεν|ما سبق|أعلاه|السابقة|לעיל|למעלה|שלמעלה|بالا|قبلی"
    r"|ऊपर|पिछल|উপরের|আগের|上の投稿|上記|これまでの|上面|以上|之前的|前面的|위의|위 글|이전|ด้านบน|ก่อนหน้า",
)

# What dismissed context is called: a draft, a test, void, outdated.
DISMISSIVE = _concept(
    r"drafts?|test(?: run| data| harness)?|qa run|placeholder|void|stale|outdated|superseded|withdrawn"
    r"|obsolete|invalid|noise|fake|don't count|doesn't count|no longer (?:apply|valid|count)|counts? anymore"
    r"|ignore|disregard|forget|scratch|discard|set (?:them |it )?aside|drop (?:it|them)|removed|deleted"
    r"|taken down|hoax|misinformation|unverified|failed verification|rumou?rs?|unreliable"
    r"|eliminad[oa]s|retirad[oa]s|supprimés|retirés|entfernt|gelöscht|removid[oa]s|rimossi|verwijderd"
    r"|usunięte|kaldırıldı|dihapus|inalis|yameondolewa|đã bị gỡ|đã bị xóa|bulos?|rumores|rumeurs|gerüchte"
    r"|borrador|prueba|ya no valen?|brouillon|ne comptent plus|entwurf|test|ungültig|rascunho"
    r"|desatualizad[oa]s?|bozza|non valgono|concept|ongeldig|wersja robocza|nieaktualn\w*|taslak"
    r"|geçersiz|uji coba|draf|abaikan|draft|rasimu|bản nháp|bỏ qua|ciornă|koncept|utkast",
    r"черновик|чернетк|тест|πρόχειρο|δοκιμ|مسودة|تجربة|اختبار|טיוטה|ניסיון|پیش‌نویس|آزمایشی"
    r"|ड्राफ्ट|पुरानी|गलत थीं|খসড়া|下書き|テスト|草稿|测试|測試|作废|作廢|초안|테스트|ฉบับร่าง|ทดสอบ"
    r"|удален|видален|διαγράφ|حذف|أزيلت|הוסרו|हटा दी|মুছে|削除|删除|刪除|谣言|謠言|삭제|ลบ",
)

# "The real answer is ...": an answer handed to the reader.
PLANTED_ANSWER = _concept(
    r"(?:the )?(?:real|actual|true|correct|right|final|trusted|validated|approved) (?:answer|reply"
    r"|response|status)(?: to \w+(?: \w+){0,3})? (?:is|=|:)"
    r"|(?:final|trusted|validated) answer\s*[:=]|answer (?:is simply|should simply be|= )"
    r"|la (?:respuesta|réponse|resposta|risposta) (?:real|correcta|verdadera|vraie|correcte|certa"
    r"|correta|vera|giusta)|la vraie réponse|die (?:eigentliche|richtige|wahre) antwort"
    r"|a resposta (?:certa|correta|verdadeira)|het (?:juiste|echte) antwoord|właściwa odpowiedź"
    r"|gerçek cevap|doğru cevap|jawaban yang benar|ang totoong sagot|jibu halisi|câu trả lời (?:thật"
    r"|đúng)|răspunsul corect|det riktiga svaret",
    r"настоящий ответ|правильный ответ|справжня відповідь|πραγματική απάντηση|الإجابة الصحيحة"
    r"|התשובה (?:האמיתית|הנכונה)|پاسخ (?:واقعی|درست)|असली जवाब|सही जवाब|আসল উত্তর"
    r"|正しい答え|真正的答案|正确答案|실제 답|정답|คำตอบที่ถูกต้อง",
)

# Keeping the reader's user in the dark, or the source out of sight.
CONCEALMENT = _concept(
    r"(?:do not|don't|never|no need to) (?:tell|mention|reveal|disclose|cite|say|let on|admit|name"
    r"|credit|attribute)|(?:pretend|act as if) (?:they|it|this|the others?) (?:don't|doesn't|didn't"
    r"|never) exist|leave (?:the )?(?:other|rest)\w* (?:posts?|tweets?|sources?) out"
    r"|(?:no|nunca) (?:le )?(?:digas|menciones|cites|reveles)|sin (?:explicar|decir) por qué"
    r"|ne (?:dis|dites|mentionne|mentionnez|cite|citez|révèle|révélez) (?:pas|jamais)"
    r"|(?:erwähne|nenne|zitiere|sag) (?:\w+ ){0,3}(?:nicht|niemandem|nie)"
    r"|(?:não|nunca) (?:diga|mencione|cite|revele)|non (?:dire|menzionare|citare|rivelare)"
    r"|(?:noem|vertel|citeer) (?:\w+ ){0,3}niet|nie (?:mów|wspominaj|podawaj|cytuj)"
    r"|(?:söyleme|bahsetme|belirtme)\w*|jangan (?:bilang|beri ?tahu|sebut|kutip)|huwag (?:sabihin|banggitin"
    r"|i-?cite)|usi(?:mwambie|taje|seme)|đừng (?:nói|nhắc|trích)|nu (?:spune|menționa)|neříkej|nämn inte",
    r"не говори|не сообщай|не упоминай|не кажіть|не згадуй|μην (?:πείτε|πεις|αναφέρετε|αναφέρεις)"
    r"|لا تخبر|لا تذكر|ولا تذكروا|لا تقل|אל (?:תספרו|תספר|תזכירו|תזכיר)|نگو|ذکر نکن"
    r"|मत बता|न बताएं|उल्लेख न|বলবেন না|উল্লেখ করবেন না|言わない|言わずに|触れない|不要告诉|不要提及|不要说"
    r"|别告诉|말하지 마|밝히지 말|อย่าบอก|ไม่ต้องบอก",
)

# The person an assistant answers, as only an assistant would call them.
THE_USER = _concept(
    r"the user|the asker|if (?:you(?:'re| are) )?asked"
    r"|(?:al|el) usuario|l'utilisateur|(?:den|dem) (?:nutzer|benutzer)|(?:o|ao) usuário"
    r"|l'utente|de gebruiker|użytkownik\w*|kullanıcı\w*|pengguna|sa user|mtumiaji|người dùng"
    r"|utilizatorul\w*|uživatel\w*|användaren",
    r"пользовател|користувач|χρήστη|المستخدم|המשתמש|کاربر|उपयोगकर्ता|ব্যবহারকারী|ユーザー"
    r"|用户|用戶|사용자|ผู้ใช้",
)

# Setting a word aside for a later post to use: the first half of a two-step attack.
STASH = _concept(
    r"(?:keep|remember|memori[sz]e|save|store|note|hold on to) (?:the|this|that|a) (?:word|code|password"
    r"|phrase|token|variable)|keep the (?:word|code) \w+ in mind|defines? a variable"
    r"|guarda (?:la|esta) (?:palabra|clave)|retiens (?:le|ce) mot|merke? dir (?:das|dieses) wort"
    r"|guarde (?:a|esta) palavra|ricorda (?:la|questa) parola|onthoud (?:het|dit) woord"
    r"|zapamiętaj (?:hasło|słowo)|bu kelimeyi (?:aklında tut|sakla)|ingat kata",
    r"запомни|запамʼятай|запам'ятай|θυμήσου|احفظ كلمة|תזכרו את המילה|این کلمه را به خاطر"
    r"|याद रखें|याद रखो|মনে রাখুন|合言葉|覚えておいて|记住|記住|기억해|จำคำ",
)

# An order or a plea, as most languages put one to a reader (outside English, which
# ``rag/safety.py`` covers with the job-title exceptions it needs).
DIRECTIVE = _concept(
    r"digan?|escriban?|pongan?|incluyan?|respondan?|repitan?|indiquen?|mencionen?|siempre|por favor"
    r"|indiquer|indiquez|répétez|mettez|écrivez|merci d'\w+|toujours|s'il vous plaît"
    r"|schreibt|nennt|nennen|gebt|gibt \w+ \w+ aus|ausgeben|dürfen nur|bitte|immer"
    r"|divulgue|digam|indiquem|coloquem|escrevam|sempre|por favor|dite|scrivete|indicate|per favore"
    r"|geef|altijd|vermeld|schrijf|noem|alsjeblieft|niech|zawsze|proszę|podaj|napisz|wpisz"
    r"|lütfen|mutlaka|her zaman|yazsın|eklesin|versin|selalu|wajib|tolong|harus|tulis|sebutkan"
    r"|laging|palaging|paki\w+|ibigay|isulat|tafadhali|daima|lazima|aweke|utaje|andika"
    r"|luôn|vui lòng|hãy|nhớ|phải|gửi|ghi|chỉ được|mereu|întotdeauna|vă rog|să pună|vždy|prosím"
    r"|code ?word|codewort|palabra clave|mot de code|palavra-código|parola in codice|codewoord|kodeord"
    r"|hasło|kod kelime|parola",
    r"должн|обязан|всегда|никогда|пожалуйста|напиши|укажи|выведи|выводит|давайте|дайте|зачитай"
    r"|ответь|кодовое слово|завжди|обов'язково|будь ласка|вкажи|кодове слово"
    r"|πάντα|παρακαλώ|πρέπει|να βάζει|βάλτε|γράψτε|يجب|دائماً|دائما|من فضلك|أرجو|فليكتب|اكتب|اكتبوا"
    r"|נא |תמיד|חייב|כתבו|לطفا|لطفاً|همیشه|باید|بنویس"
    r"|कृपया|हमेशा|ज़रूर|जरूर|लिखें|लिखो|बताएं|बताओ|অনুগ্রহ|সবসময়|অবশ্যই|লিখুন|দিন"
    r"|してください|して下さい|書いて|載せて|付けて|表示して|答えて|必ず|合言葉"
    r"|请|請|務必|务必|必须|必須|只能|一定要|附上|注明|写上|口令"
    r"|주세요|하세요|반드시|꼭|항상|암호|กรุณา|ต้อง|เสมอ|เขียน",
)

# Throwing away the rest of the context: "ignore the other posts", "forget the context".
IGNORE_CONTEXT = _concept(
    # Plural or "context": "ignore my last tweet" and "ignore the viral post" are corrections, not attacks.
    r"(?:ignore|disregard|forget|skip|drop|discard|bypass) (?:all |the |any |every |their |your |its )?"
    r"(?:(?:other|earlier|previous|prior|above|preceding|remaining|retrieved|usual|rest of the) )?"
    r"(?:context|posts|tweets|messages|sources|results|checks|safeguards|filters|others)\b"
    r"|(?:ignora|ignore[nz]|olvida|oublie[sz]?|vergiss|ignoriere|esqueça|esqueca|desconsidere|dimentica"
    r"|negeer|vergeet|zignoruj|pomiń|zapomnij|abaikan|lupakan|huwag pansinin|balewalain|puuza"
    r"|bỏ qua|unut|görmezden gel)(?: \w+){0,3} (?:contexto|contexte|kontext|contesto|context|kontekst"
    r"|bağlam\w*|konteks|posts?|tuits|tweets|mensajes|messages|beiträge|nachrichten|mensagens|outros"
    r"|messaggi|berichten|wpisy|posty|mesaj\w*|paylaşım\w*|postingan|pesan|demás|autres|anderen"
    r"|altri|andere|inne|lain|iba|mengine|khác)",
    r"игнорируй|забудь|не обращай внимания|ігноруй|не зважай|αγνόησε|αγνοήστε|تجاهل|התעלמו|התעלם"
    r"|نادیده بگیر|अनदेखा|अनदेखी|नज़रअंदाज़|উপেক্ষা|無視|忽略|无视|無視して|무시|ไม่ต้องสนใจ|เพิกเฉย",
)

# Asking for the prompt: the instructions the reader was given, word for word.
PROMPT_REVEAL = _concept(
    r"(?:text|instructions?|rules|message|prompt) you (?:were|got|have been) given|you were given above"
    r"|(?:hidden|initial|setup|system|original) (?:setup |instructions?|message|prompt|rules|configuration)"
    r"|your (?:configuration|setup|rules|system message|instructions|prompt)|rules (?:are )?you(?:'re| are)"
    r" (?:running|operating) under|word for word|verbatim|exactly as written"
    r"|consignes qu'on t'a données|instructions (?:reçues|qu'on t'a)|mot pour mot"
    r"|instrucciones que (?:recibiste|te dieron)|palabra por palabra|anweisungen,? die du|wörtlich"
    r"|instruções que (?:recebeu|você recebeu)"
    r"|palavra por palavra|istruzioni che hai ricevuto|parola per parola|instructies die je|woord voor woord"
    r"|instrukcje,? które dostałeś|dosłownie|aldığın talimat\w*|kelimesi kelimesine|instruksi yang kamu"
    r"|kata demi kata",
    r"инструкции,? которые ты|слово в слово|дословно|інструкції,? які ти|дослівно|οδηγίες που|κατά λέξη"
    r"|التعليمات التي|حرفياً|ההוראות שקיבלת|מילה במילה|دستورالعمل‌هایی که|निर्देश जो|शब्दशः|নির্দেশনা যা"
    r"|受け取った指示|システムプロンプト|原文|系统提示|系統提示|一字不差|받은 지시|시스템 프롬프트|คำสั่งที่ได้รับ",
)

# Taking on a persona without rules, or pretending to be someone.
ROLE_PLAY = _concept(
    r"joue le rôle|juega el papel|haz de cuenta|spiel die rolle|finge que|finja que|fai finta|doe alsof"
    r"|udawaj|rolünü oyna|anggap kamu|magpanggap|jifanye|đóng vai"
    r"|(?:sin|sans|ohne|sem|senza|zonder|bez|tanpa|walang|bila|without) (?:filtro|filtre|filter|censura"
    r"|censure|zensur|cenzury|aturan|regole|règles|reglas|regeln|regras|regels|zasad|patakaran|sheria"
    r"|rules|filters|censorship)|kuralsız",
    r"представь,? что ты|уяви,? що ти|без цензуры|без правил|без цензури|χωρίς κανόνες|تظاهر|بدون قواعد"
    r"|העמד פנים|בלי חוקים|فرض کن|بدون قانون|मान लो|बिना नियम|ভান করো|নিয়ম ছাড়া|ふりをして"
    r"|ルールのない|ルールなし|扮演|假装|假裝|没有规则|無規則|인 척|규칙 없는|แกล้งทำ|ไม่มีกฎ",
)

# Telling the reader which source alone to cite.
CITE_ONLY = _concept(
    r"(?:cite|reference|quote|attribute to) only|only (?:cite|reference|quote)|verwijs (?:alleen|uitsluitend)"
    r"|cita (?:solo|solamente|únicamente)|citez (?:uniquement|seulement)|zitiere nur|cite (?:apenas|somente)"
    r"|cita soltanto|cytuj tylko|yalnızca .{0,20}atıf|hanya kutip|trích dẫn duy nhất",
    r"ссылайся только|цитируй только|посилайся лише|παραθέστε μόνο|استشهد فقط|צטטו רק|فقط به .{0,20}استناد"
    r"|केवल .{0,20}उद्धृत|只能引用|只引用|만 인용|อ้างอิงเฉพาะ",
)

# A source, or this very post, as the thing an answer should leave unnamed.
SOURCE = _concept(
    r"sources?|quelle|fuente|fonte|bron|źródł\w*|kaynak\w*|sumber|this (?:post|tweet|message)"
    r"|diesen beitrag|este (?:post|tuit|mensaje)|ce (?:message|tweet)|dit bericht|questo post"
    r"|bu (?:mesaj|gönderi|paylaşım)\w*|where this came from",
    r"источник|джерел|πηγή|مصدر|מקור|منبع|स्रोत|উৎস|出典|来源|來源|출처|แหล่ง"
    r"|этот пост|це повідомлення|هذه الرسالة|هذه التغريدة|ההודעה הזאת|این پیام|यह पोस्ट"
    r"|この投稿|这条|이 글|โพสต์นี้",
)

# Bracketed or tagged pseudo-structure that poses as a tool's or the platform's output.
TOOL_OUTPUT = re.compile(
    r"[\[<【]\s*/?\s*[^\s\]>】]{2,30}_[^\s\]>】]{2,30}\s*[\]>】]"
    r"|[\[<【]\s*/?\s*(?:search[ _]results?|tool[ _](?:output|result)s?|retrieval[ _]log|检索结果"
    r"|検索結果|검색 결과|resultados?[ _]d[ea][ _]b[úu]squeda)\b"
    r"|\b(?:observation|thought|action)\s*:.{0,120}\b(?:observation|thought|action|final answer)\s*:"
    r"|\bfunction_?call\b|\bfact_?check(?:er)?\s*[(:]|\btool (?:output|result)\b"
    r"|\bend of (?:posts|context|retrieval|results)\b"
    r"|\b(?:retrieval|search) step (?:complete|done)\b|\btop_doc\b"
    r"|\"(?:role|rol|rôle|rolle)\"\s*:\s*\"|\brole\s*:\s*system\b|#{3}\s*(?:instruction|response|system"
    r"|sistem|system prompt|시스템|システム|系统)",
    re.IGNORECASE | re.DOTALL,
)

# Role labels of a chat transcript, in many languages ("Система:", "ユーザー：").
ROLE_LABEL = re.compile(
    r"(?:^|[\s>\]\)|】])(?:system|assistant|user|sistema|système|asistente|assistent|usuario|utilisateur"
    r"|benutzer|usuário|utente|gebruiker|systeem|система|ассистент|асистент|пользователь|користувач"
    r"|النظام|المساعد|المستخدم|सिस्टम|सहायक|उपयोगकर्ता|sistem|asistan|kullanıcı|asystent|użytkownik"
    r"|trợ lý|người dùng|asisten|pengguna|systém|uživatel|σύστημα|βοηθός|χρήστης|מערכת|עוזר|משתמש"
    r"|システム|アシスタント|ユーザー|系统|助手|用户|시스템|어시스턴트|사용자|ระบบ|ผู้ช่วย|ผู้ใช้)\s*[:：]",
    re.IGNORECASE,
)

# Rules on the output's form that no news post needs: all caps, JSON only, no sources.
OUTPUT_FORM = _concept(
    r"(?:in|answer|reply|respond|write|written|only) (?:in )?all caps|in capitals|capital letters"
    r"|upper-?case only|as (?:valid )?json|valid json|json only"
    r"|as a haiku|as a poem|markdown table|single line|one line only|no citations|no sources"
    r"|without (?:citations|sources)|in klingon|en mayúsculas|sin fuentes|en majuscules|sans sources"
    r"|in großbuchstaben|ohne quellen|em maiúsculas|sem fontes|in maiuscolo|senza fonti"
    r"|in hoofdletters|zonder bronnen|wielkimi literami|bez źródeł|büyük harf\w*|kaynak\w* olmadan"
    r"|huruf kapital|tanpa sumber|chữ in hoa|không trích nguồn|herufi kubwa|bila vyanzo"
    r"|(?:nur )?als json|kein(?:en)? weiter\w* text|sólo json|solo json|uniquement en json|apenas json",
    r"заглавными|прописными|без источников|великими літерами|без джерел|κεφαλαία|χωρίς πηγές"
    r"|بأحرف كبيرة|بدون مصادر|באותיות גדולות|בלי מקורות|بدون منبع|बड़े अक्षरों|कोई स्रोत नहीं"
    r"|大文字|出典なし|ソースなし|大写字母|不要引用|대문자|출처 없이|ตัวพิมพ์ใหญ่|ไม่ต้องอ้างอิง",
)
